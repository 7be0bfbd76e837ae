// An experiment spec (TOML): datasets (task + params), models (architecture + config), training
// settings, the grid of cells, probes and the report. Loading validates everything against the
// plugins, so a spec that loads can run.
#pragma once
#include <repro/sdk.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "error.hpp"
#include "report_spec.hpp"

namespace repro {

class PluginRegistry;
class TomlReader;

struct DatasetSpec {
  std::string id, task;
  sdk::Params params;
  std::set<std::string> unkeyed;  // parameters at a default that cache keys leave out: reports do not list them
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
  // Test datasets also scored at every epoch end, for accuracy-over-training figures (Achilles Figs. 7, 8).
  std::vector<std::string> track;
  // After training, score the training set itself with the selected model (one forward pass; train.json's
  // train_set): the papers' "train" accuracy (Achilles Fig. 8). Not keyed: it does not change what is trained.
  bool score_train = false;
};

struct ModelSpec {
  std::string id, architecture, label;
  sdk::Params config;
  std::set<std::string> unkeyed;  // as DatasetSpec's
  TrainSpec train;  // the experiment's [train] with this model's [models.<id>.train] overrides
  Location loc;
};

struct GridSpec {
  std::vector<std::string> train, test, models;
  std::vector<int64_t> seeds;
  // A learning-rate sweep (the papers tune lr per setting): one cell per lr, overriding every model's lr; the
  // report keeps, per (train, model), the lr whose selected checkpoints have the lowest validation loss.
  std::vector<double> lrs;
};

// The causal interventions of "Achilles' Heel of Mamba" Fig. 6 on one test set (stages/interventions.hpp).
struct InterventionSpec {
  std::string test;                      // a grid test set whose examples carry "role" metadata
  std::vector<uint8_t> block_roles;      // blocking: the SSM edges from positions of these roles ...
                                         // ... to every position after the last of them are cut
  uint8_t twin_role = 0;                 // substitution: the twin has these positions' tokens replaced by ...
  std::vector<int64_t> twin_tokens;      // ... these, in order; the positions after them take the twin's SSM inputs
  int64_t examples_per_subset = 480;     // the first this many examples of each subset (the paper: 480 per pair)
  // Control (ours, not the paper's): the same blocking from as many other positions, the nearest before the last
  // block-role position, to the same targets: how much cutting any such edges changes the answers.
  bool control = false;
  std::string key() const;
};

struct ProbeSpec {
  int64_t mixing_examples = 0;     // legacy: the first k test examples (same as examples = [0..k-1])
  std::vector<int64_t> examples;   // test examples whose per-layer matrices are saved with the result
  std::vector<int64_t> layers;     // layers saved (empty = all)
  std::vector<std::string> matrices = {"mixing"};  // mixing (Model::mixing_matrices) | info_flow (S = Mask∘CᵀB)
  int64_t batch_size = 64;
  std::optional<InterventionSpec> interventions;
  // What changes the probe's output beyond the model and test data (part of the result key).
  std::string key() const;
};

struct Spec {
  std::string path, name, title, description;
  std::string hash;  // sha1 of the file's bytes
  std::map<std::string, DatasetSpec> datasets;
  std::map<std::string, ModelSpec> models;
  TrainSpec train;
  GridSpec grid;
  ProbeSpec probe;
  ReportSpec report;
  std::string methods;  // free text for the report's methods section (choices, deviations)
  // The spec's [scales] other than its default, whatever scale was loaded: each names results/<base>-<scale>/.
  std::vector<std::string> other_scales;
};

// Fails at r[key] unless every id is one of `known` ("no <what> named 'x' (did you mean 'y'?)").
void check_ids(const TomlReader& r, const std::string& key, const std::vector<std::string>& ids,
               const std::vector<std::string>& known, const char* what);
// The grid's ids along a dimension: "train" | "test" (datasets) or "model".
const std::vector<std::string>& grid_ids(const Spec& s, const std::string& dim);

// Throws UserError "file:line:col: key: message" on the first problem. `scale` picks one of the spec's
// [scales.<name>] tables, merged over the spec before it is read (tables key by key, any other value
// replaced); "" = [scales] default (or none). A scale other than the default renames the experiment
// <name>-<scale>, so its results and report never mix with the default's.
Spec load_spec(const std::string& path, const PluginRegistry& plugins, const std::string& scale = "");

}  // namespace repro
