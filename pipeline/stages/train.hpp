// Stage 2, train: (train split, valid split, architecture config, settings, seed) -> model artifact
// (model.pt, metrics.jsonl, train.json). Resumes from the last complete checkpoint after a kill;
// stops on a non-finite loss naming the step and keeping the last good checkpoint.
#pragma once
#include <filesystem>

#include "../core/plan.hpp"
#include "../core/store.hpp"

namespace repro {

class DataParallel;

struct TrainJob {
  const Spec& spec;
  const Cell& cell;
  const PluginRegistry& plugins;
  const Store& store;
  std::filesystem::path train_dir, valid_dir;  // valid_dir empty when the dataset has no valid split
  torch::Device device;
  DataParallel* data_parallel = nullptr;  // set: this process is one rank of a data-parallel group
  std::vector<std::pair<std::string, std::filesystem::path>> tracked = {};  // [train] track: (dataset, test split)
};

// Model artifact directory (built if absent). Data-parallel: every rank trains on its share of each
// batch; rank 0 alone takes the lock, checkpoints, logs, validates and commits.
std::filesystem::path train_cell(const TrainJob& job);

// Builds the cell's model, seeded deterministically (thread-safe), on CPU.
std::shared_ptr<sdk::Model> build_seeded_model(const PluginRegistry& plugins, const ModelSpec& m,
                                               const sdk::ModelShape& shape, int64_t seed);
sdk::ModelShape model_shape(const Spec& spec, const PluginRegistry& plugins, const Cell& cell);
int64_t parameter_count(sdk::Model& m);

}  // namespace repro
