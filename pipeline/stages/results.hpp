// The committed results of a spec: results/<spec>/<cell>.json, one per trained cell, each with its
// metrics and provenance, and results/<spec>/<cell>.probe.safetensors with the probe's matrices when
// the spec asks for them. These are the typed artifacts between probing and reporting.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "../core/safetensors.hpp"

namespace repro {

// Whether a result JSON is as write_result wrote it (its checksum matches; not whether its probe file exists).
bool result_intact(const nlohmann::json& r);
// The result for a cell if present, parseable and carrying `result_key`; nullopt otherwise.
std::optional<nlohmann::json> read_result(const std::filesystem::path& results_dir, const std::string& cell_id,
                                          const std::string& result_key);
// Writes the probe matrices first (when any) and records their file name and SHA-1 in the JSON, so a
// result never points at matrices it was not computed with.
void write_result(const std::filesystem::path& results_dir, const std::string& cell_id, const nlohmann::json& r,
                  const TensorMap& probe = {});
// The probe matrices of a result read by read_result; nullopt when it has none or the file does not
// match the recorded SHA-1.
std::optional<TensorMap> read_probe_tensors(const std::filesystem::path& results_dir, const nlohmann::json& r);

}  // namespace repro
