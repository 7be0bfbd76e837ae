#include "fs.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "crash.hpp"
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
  // A failed fsync means the data may not be on disk (full disk, I/O error): never go on as if it were.
  // EINVAL: the file system cannot sync this kind of file (some do not sync directories).
  if (::fsync(fd) != 0 && errno != EINVAL) {
    int e = errno;
    ::close(fd);
    throw StageError(p.string() + ": fsync failed: " + std::strerror(e));
  }
  ::close(fd);
}

namespace {
// 0 or the errno of the failed write.
int write_all(int fd, const char* data, size_t size) {
  for (size_t off = 0; off < size;) {
    ssize_t n = ::write(fd, data + off, size - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    off += static_cast<size_t>(n);
  }
  return 0;
}
}  // namespace

void write_file_atomic(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path().empty() ? fs::path(".") : p.parent_path());
  static std::atomic<int64_t> serial{0};  // threads of one process may write beside each other
  fs::path tmp = p;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(serial++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw StageError(tmp.string() + ": cannot write: " + std::strerror(errno));
  const size_t half = bytes.size() / 2;
  int err = write_all(fd, bytes.data(), half);
  if (!err) crash_point("write");  // a kill with the temp file half written
  if (!err) err = write_all(fd, bytes.data() + half, bytes.size() - half);
  if (!err && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && !err) err = errno;
  if (err) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw StageError(p.string() + ": write failed: " + std::strerror(err));
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
