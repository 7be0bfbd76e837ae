#include "store.hpp"

#include <unistd.h>

#include <chrono>

#include "crash.hpp"
#include "error.hpp"
#include "log.hpp"
#include "manifest.hpp"

namespace repro {
namespace fs = std::filesystem;

Store::Store(fs::path root) : root_(std::move(root)) {}

std::optional<fs::path> Store::find(const std::string& kind, const std::string& key) const {
  fs::path dir = root_ / kind / key;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  std::string problem = verify_manifest(dir);
  if (problem.empty()) return dir;
  log::warn("corrupted artifact {}: {}; removing it so it is rebuilt", dir.string(), problem);
  fs::path trash = root_ / "trash" / (key + "." + std::to_string(::getpid()));
  fs::create_directories(trash.parent_path());
  fs::rename(dir, trash, ec);
  fs::remove_all(trash, ec);
  return std::nullopt;
}

nlohmann::json Store::meta(const fs::path& dir) const { return manifest_meta(dir); }

FileLock Store::lock(const std::string& kind, const std::string& key) const {
  return FileLock(root_ / "locks" / (kind + "-" + key));
}

Store::Builder Store::build(const std::string& kind, const std::string& key) const {
  auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  fs::path tmp = root_ / "tmp" / (kind + "-" + key + "-" + std::to_string(::getpid()) + "-" + std::to_string(stamp));
  fs::create_directories(tmp);
  return Builder(tmp, root_ / kind / key);
}

fs::path Store::work_dir(const std::string& kind, const std::string& key) const {
  fs::path d = root_ / "work" / kind / key;
  fs::create_directories(d);
  return d;
}

Store::Builder::Builder(fs::path tmp, fs::path final) : tmp_(std::move(tmp)), final_(std::move(final)) {}
Store::Builder::Builder(Builder&& o) noexcept : tmp_(std::move(o.tmp_)), final_(std::move(o.final_)), done_(o.done_) {
  o.done_ = true;
}
Store::Builder::~Builder() {
  if (!done_) {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
}

fs::path Store::Builder::commit(const nlohmann::json& meta) {
  write_manifest(tmp_, meta);
  crash_point("store.commit");  // whole and checksummed, not yet visible
  fs::create_directories(final_.parent_path());
  std::error_code ec;
  fs::remove_all(final_, ec);  // a corrupted predecessor (find() already moved intact ones aside)
  fs::rename(tmp_, final_);
  fsync_path(final_.parent_path());
  done_ = true;
  return final_;
}

}  // namespace repro
