#include "fs.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "error.hpp"

namespace repro {
namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw UserError(p.string() + ": cannot read file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void fsync_path(const fs::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY);
  if (fd < 0) throw StageError(p.string() + ": cannot open for fsync: " + std::strerror(errno));
  ::fsync(fd);
  ::close(fd);
}

void write_file_atomic(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path().empty() ? fs::path(".") : p.parent_path());
  fs::path tmp = p;
  tmp += ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw StageError(tmp.string() + ": cannot write: " + std::strerror(errno));
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      fs::remove(tmp);
      throw StageError(p.string() + ": write failed: " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    fs::remove(tmp);
    throw StageError(p.string() + ": fsync/close failed: " + std::strerror(errno));
  }
  fs::rename(tmp, p);
  fsync_path(p.parent_path().empty() ? fs::path(".") : p.parent_path());
}

FileLock::FileLock(const fs::path& p) {
  fs::create_directories(p.parent_path());
  fd_ = ::open(p.c_str(), O_RDWR | O_CREAT, 0644);
  if (fd_ < 0) throw StageError(p.string() + ": cannot open lock: " + std::strerror(errno));
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) throw StageError(p.string() + ": cannot lock: " + std::strerror(errno));
  }
}

FileLock::FileLock(const fs::path& p, std::try_to_lock_t) {
  fs::create_directories(p.parent_path());
  fd_ = ::open(p.c_str(), O_RDWR | O_CREAT, 0644);
  if (fd_ < 0) throw StageError(p.string() + ": cannot open lock: " + std::strerror(errno));
  int rc;
  while ((rc = ::flock(fd_, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
  }
  if (rc != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    if (e != EWOULDBLOCK) throw StageError(p.string() + ": cannot lock: " + std::strerror(e));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

}  // namespace repro
