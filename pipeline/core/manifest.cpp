#include "manifest.hpp"

#include <sys/stat.h>

#include <ctime>
#include <map>
#include <mutex>
#include <tuple>

#include "fs.hpp"
#include "hash.hpp"

namespace repro {
namespace fs = std::filesystem;

namespace {
// Committed artifacts never change in place (they are built in a temp dir and renamed), so a file this process has
// hashed is not hashed again while its inode, size, mtime and ctime are unchanged: a 28-cell sweep re-hashed each
// 270 MB training set at every cell's lookup (141 s of a GPU host's time). Any write changes ctime, so a file damaged
// after it was checked is hashed (and caught) again; and since file times tick coarsely (a jiffy, or seconds on some
// filesystems), a file changed less than 2 s before it was hashed is not remembered.
struct FileState {
  off_t size;
  long mtime_s, mtime_ns, ctime_s, ctime_ns;
  auto tie() const { return std::tie(size, mtime_s, mtime_ns, ctime_s, ctime_ns); }
};

std::optional<std::pair<std::pair<dev_t, ino_t>, FileState>> file_state(const fs::path& p) {
  struct stat st{};
  if (::stat(p.c_str(), &st) != 0) return std::nullopt;
  return std::pair{std::pair{st.st_dev, st.st_ino},
                   FileState{st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ctim.tv_sec, st.st_ctim.tv_nsec}};
}

std::string sha1_file_memo(const fs::path& p) {
  static std::mutex mu;
  static std::map<std::pair<dev_t, ino_t>, std::pair<FileState, std::string>> memo;
  const auto before = file_state(p);
  if (before) {
    std::lock_guard g(mu);
    if (auto it = memo.find(before->first); it != memo.end() && it->second.first.tie() == before->second.tie())
      return it->second.second;
  }
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const double started = static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
  std::string sum = sha1_file(p);
  if (const auto after = file_state(p); before && after && after->first == before->first &&
                                        after->second.tie() == before->second.tie() &&
                                        before->second.ctime_s + 1e-9 * static_cast<double>(before->second.ctime_ns) + 2 < started) {
    std::lock_guard g(mu);
    memo[before->first] = {before->second, sum};
  }
  return sum;
}
}  // namespace

void write_manifest(const fs::path& dir, const nlohmann::json& meta) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename() == kManifestFile) continue;
    files[fs::relative(e.path(), dir).string()] = sha1_file(e.path());
    fsync_path(e.path());
  }
  write_file_atomic(dir / kManifestFile, nlohmann::json{{"files", files}, {"meta", meta}}.dump(2));
}

std::string verify_manifest(const fs::path& dir) {
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(read_file(dir / kManifestFile));
  } catch (const std::exception& e) {
    return std::string("unreadable manifest: ") + e.what();
  }
  if (!m.is_object() || !m.contains("files") || !m["files"].is_object()) return "manifest lists no files";
  for (const auto& [name, sum] : m["files"].items()) {
    std::error_code ec;
    if (!sum.is_string()) return "bad manifest entry for " + name;
    if (!fs::is_regular_file(dir / name, ec)) return "missing file " + name;
    try {
      if (sha1_file_memo(dir / name) != sum.get<std::string>()) return "checksum mismatch in " + name;
    } catch (const std::exception& e) {
      return "unreadable file " + name + ": " + e.what();
    }
  }
  return "";
}

nlohmann::json manifest_meta(const fs::path& dir) {
  return nlohmann::json::parse(read_file(dir / kManifestFile)).value("meta", nlohmann::json::object());
}

}  // namespace repro
