#include "results.hpp"

#include "../core/fs.hpp"
#include "../core/hash.hpp"
#include "../core/log.hpp"

namespace repro {
namespace fs = std::filesystem;

namespace {
// The checksum covers the whole JSON except the checksum field itself.
std::string checksum_of(nlohmann::json r) {
  r.erase("checksum");
  return sha1_hex(r.dump());
}
}  // namespace

std::optional<nlohmann::json> read_result(const fs::path& dir, const std::string& cell, const std::string& key) {
  const fs::path p = dir / (cell + ".json");
  if (!fs::exists(p)) return std::nullopt;
  nlohmann::json r;
  try {
    r = nlohmann::json::parse(read_file(p));
  } catch (const std::exception& e) {
    log::warn("{}: unreadable result ({}); the cell will be recomputed", p.string(), e.what());
    return std::nullopt;
  }
  if (r.value("checksum", "") != checksum_of(r)) {
    log::warn("{}: checksum mismatch (edited or corrupted); the cell will be recomputed", p.string());
    return std::nullopt;
  }
  if (r.value("result_key", "") != key) return std::nullopt;  // from a different configuration: stale
  return r;
}

void write_result(const fs::path& dir, const std::string& cell, const nlohmann::json& r0) {
  nlohmann::json r = r0;
  r["checksum"] = checksum_of(r);
  write_file_atomic(dir / (cell + ".json"), r.dump(2) + "\n");
}

}  // namespace repro
