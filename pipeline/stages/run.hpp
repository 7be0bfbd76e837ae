// The pipeline driver: for each stale cell, generate -> train -> probe -> publish its result, then
// render the report. A cell is fresh when results/<spec>/<cell>.json carries the cell's current result
// key; fresh cells cost nothing, so a second `repro run` does no work.
#pragma once
#include <filesystem>
#include <optional>
#include <vector>
#include <string>

#include "../core/plan.hpp"

namespace repro {

enum class Until { Generate, Train, Probe, Report };

struct RunOptions {
  std::filesystem::path store_dir = ".repro/store";
  std::filesystem::path results_root = "results";  // results/<spec name>/
  std::filesystem::path reports_dir = "reports";
  bool force = false, dry_run = false, pdf = true;
  int jobs = 1;
  std::vector<std::string> only;      // run only cells whose id matches one of these globs (empty = all)
  std::optional<std::string> device;  // overrides every model's train.device
  Until until = Until::Report;
};

// Returns the process exit code: 0 all cells done, 1 some cell failed.
int run_spec(const Spec& spec, const PluginRegistry& plugins, const RunOptions& opts);
std::filesystem::path results_dir(const Spec& spec, const RunOptions& opts);

}  // namespace repro
