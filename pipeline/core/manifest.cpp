#include "manifest.hpp"

#include "fs.hpp"
#include "hash.hpp"

namespace repro {
namespace fs = std::filesystem;

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
      if (sha1_file(dir / name) != sum.get<std::string>()) return "checksum mismatch in " + name;
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
