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

bool result_intact(const nlohmann::json& r) { return r.value("checksum", "") == checksum_of(r); }

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
  if (!result_intact(r)) {
    log::warn("{}: checksum mismatch (edited or corrupted); the cell will be recomputed", p.string());
    return std::nullopt;
  }
  if (r.value("result_key", "") != key) return std::nullopt;  // from a different configuration: stale
  if (r.contains("probe_file")) {
    const fs::path probe = dir / r["probe_file"].value("name", "");
    if (!fs::is_regular_file(probe) || sha1_file(probe) != r["probe_file"].value("sha1", "")) {
      log::warn("{}: missing or checksum mismatch (corrupted); the cell will be recomputed", probe.string());
      return std::nullopt;
    }
  }
  return r;
}

void write_result(const fs::path& dir, const std::string& cell, const nlohmann::json& r0, const TensorMap& probe) {
  nlohmann::json r = r0;
  if (!probe.empty()) {
    const std::string name = cell + ".probe.safetensors";
    save_safetensors(dir / name, probe);
    r["probe_file"] = {{"name", name}, {"sha1", sha1_file(dir / name)}};
  }
  r["checksum"] = checksum_of(r);
  write_file_atomic(dir / (cell + ".json"), r.dump(2) + "\n");
}

}  // namespace repro

namespace repro {

std::optional<TensorMap> read_probe_tensors(const fs::path& dir, const nlohmann::json& r) {
  if (!r.contains("probe_file")) return std::nullopt;
  const fs::path p = dir / r["probe_file"]["name"].get<std::string>();
  if (!fs::exists(p) || sha1_file(p) != r["probe_file"]["sha1"].get<std::string>()) {
    log::warn("{}: missing or not the file its result was written with; its figures are not drawn", p.string());
    return std::nullopt;
  }
  return load_safetensors(p);
}

}  // namespace repro
