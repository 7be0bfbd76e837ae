// The cells of a spec and the content keys of everything they produce.
// A dataset key hashes (task name+version, params, split, seed, size); a model key hashes
// (architecture name+version, config, train/valid dataset keys, training settings, seed); a result
// key hashes (model key, test dataset keys, probe version). Changing any input changes the key.
#pragma once
#include <nlohmann/json.hpp>
#include <repro/sdk.hpp>

#include <optional>
#include <string>
#include <vector>

#include "spec.hpp"

namespace repro {

class PluginRegistry;
inline constexpr const char* kProbeVersion = "1";

struct SplitRef {
  std::string dataset;  // DatasetSpec id
  sdk::Split split;
  int64_t examples;
  uint64_t seed;        // derived from the dataset's seed and the split name
  std::string key;
};

struct Cell {
  std::string id;  // "<train>__<model>__s<seed>" ("<train>__<model>__lr<lr>__s<seed>" in an lr sweep), the results file name
  std::string train_dataset, model;
  int64_t seed;
  std::optional<double> lr;  // set in an lr sweep (grid.lrs)
  TrainSpec settings;        // the model's training settings, with the sweep's lr
  SplitRef train, valid;  // valid.examples == 0: no validation split
  std::vector<SplitRef> tests;
  std::string model_key, result_key;
};

SplitRef split_ref(const Spec& spec, const PluginRegistry& plugins, const std::string& dataset, sdk::Split split);
std::vector<Cell> plan_cells(const Spec& spec, const PluginRegistry& plugins);
nlohmann::json train_settings_json(const TrainSpec& t);  // the parts that change the trained function

}  // namespace repro
