// The committed results of a spec: results/<spec>/<cell>.json, one per trained cell, each with its
// metrics and provenance. This is the typed artifact between probing and reporting.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace repro {

// The result for a cell if present, parseable and carrying `result_key`; nullopt otherwise.
std::optional<nlohmann::json> read_result(const std::filesystem::path& results_dir, const std::string& cell_id,
                                          const std::string& result_key);
void write_result(const std::filesystem::path& results_dir, const std::string& cell_id, const nlohmann::json& r);

}  // namespace repro
