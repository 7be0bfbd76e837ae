// Stage 3, probe: a trained model artifact x test splits -> per-test accuracies (+ optional mixing
// matrices saved as a store artifact). Produces the cell's result JSON (without provenance).
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <vector>

#include "../core/plan.hpp"
#include "../core/store.hpp"

namespace repro {

struct ProbeJob {
  const Spec& spec;
  const Cell& cell;
  const PluginRegistry& plugins;
  const Store& store;
  std::filesystem::path model_dir;
  std::vector<std::filesystem::path> test_dirs;  // aligned with cell.tests
  torch::Device device;
};

nlohmann::json probe_cell(const ProbeJob& job);

}  // namespace repro
