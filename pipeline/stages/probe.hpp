// Stage 3, probe: a trained model artifact x test splits -> per-test accuracies, and for the test
// examples the spec names, per-layer matrices (mixing: Model::mixing_matrices, i.e. the attention-like
// matrix of Eq. 5 for SSMs and head-averaged attention for Transformers; info_flow: S = Mask∘CᵀB)
// with the examples' tokens and metadata (roles, key/value/query positions) for the figures; and, where the spec
// asks ([probe.interventions]), the blocking and substitution agreements of interventions.hpp on one test set.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <vector>

#include "../core/plan.hpp"
#include "../core/safetensors.hpp"
#include "../core/store.hpp"

namespace repro {

struct ProbeJob {
  const Spec& spec;
  const Cell& cell;
  const PluginRegistry& plugins;
  const Store& store;
  std::filesystem::path model_dir;
  std::vector<std::filesystem::path> test_dirs;  // aligned with cell.tests; empty = not run (input missing)
  torch::Device device;
};

struct ProbeOutput {
  nlohmann::json result;  // the cell's result JSON (without provenance)
  TensorMap matrices;     // "<test>.<matrix>.layer<l>" [k, L, L] float, "<test>.example" [k], "<test>.meta.<name>"
};

ProbeOutput probe_cell(const ProbeJob& job);

}  // namespace repro
