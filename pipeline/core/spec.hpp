// An experiment spec (TOML): datasets (task + params), models (architecture + config), training
// settings, the grid of cells, probes and the report. Loading validates everything against the
// plugins, so a spec that loads can run.
#pragma once
#include <repro/sdk.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "error.hpp"

namespace repro {

class PluginRegistry;

struct DatasetSpec {
  std::string id, task;
  sdk::Params params;
  int64_t train_examples = 0, valid_examples = 0, test_examples = 0;
  uint64_t seed = 0;  // data seed: each split draws from an independent stream derived from it
  std::string label;
  Location loc;
};

struct TrainSpec {
  int64_t epochs = 10, batch_size = 32;
  double lr = 1e-3, weight_decay = 0.1, warmup_fraction = 0.1, min_lr_fraction = 0.0;
  double beta1 = 0.9, beta2 = 0.95, grad_clip = 1.0;
  std::string schedule = "cosine";    // cosine | linear | constant (after linear warmup)
  std::string clip = "norm";          // norm | value | none
  std::string device = "auto";        // auto | cpu | cuda
  std::string precision = "bf16";     // bf16 (autocast on CUDA; fp32 on CPU) | fp32
  std::string select = "last";        // last | best_valid_loss
  bool shuffle = true;
  int64_t checkpoint_every = 500;     // optimizer steps between checkpoints (and at every epoch end)
  int64_t log_every = 50;
};

struct ModelSpec {
  std::string id, architecture, label;
  sdk::Params config;
  TrainSpec train;  // the experiment's [train] with this model's [models.<id>.train] overrides
  Location loc;
};

struct GridSpec {
  std::vector<std::string> train, test, models;
  std::vector<int64_t> seeds;
};

struct ProbeSpec {
  int64_t mixing_examples = 0;  // test examples whose per-layer mixing matrices are saved
  int64_t batch_size = 64;
};

struct PaperNumbers {
  std::string source;  // e.g. "Table 1 of arXiv 2410.15678"
  std::vector<std::string> rows, cols;
  std::vector<std::vector<std::optional<double>>> values;  // [row][col]; nullopt = not reported
  double tolerance = 5.0;  // |ours - paper| <= tolerance (points) counts as agreement
};

struct TableSpec {
  std::string id, title, metric, rows, cols;  // rows/cols: "train" | "test" | "model"
  std::map<std::string, std::string> fixed;   // the third dimension pinned, e.g. {"model": "mamba"}
  std::optional<PaperNumbers> paper;
  Location loc;
};

struct Spec {
  std::string path, name, title, description;
  std::string hash;  // sha1 of the file's bytes
  std::map<std::string, DatasetSpec> datasets;
  std::map<std::string, ModelSpec> models;
  TrainSpec train;
  GridSpec grid;
  ProbeSpec probe;
  std::vector<TableSpec> tables;
  std::string methods;  // free text for the report's methods section (choices, deviations)
};

inline const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> m = {"example_accuracy", "query_accuracy", "token_accuracy"};
  return m;
}

// Throws UserError "file:line:col: key: message" on the first problem.
Spec load_spec(const std::string& path, const PluginRegistry& plugins);

}  // namespace repro
