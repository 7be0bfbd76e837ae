#include "plan.hpp"

#include <fmt/format.h>

#include "hash.hpp"
#include "params.hpp"
#include "plugins.hpp"

namespace repro {

nlohmann::json train_settings_json(const TrainSpec& t) {
  // device, checkpoint_every, log_every and score_train are deliberately absent: they do not change what is trained.
  nlohmann::json j = {{"epochs", t.epochs},        {"batch_size", t.batch_size}, {"lr", t.lr},
          {"weight_decay", t.weight_decay}, {"warmup_fraction", t.warmup_fraction},
          {"min_lr_fraction", t.min_lr_fraction}, {"beta1", t.beta1}, {"beta2", t.beta2},
          {"grad_clip", t.grad_clip}, {"schedule", t.schedule}, {"clip", t.clip},
          {"precision", t.precision}, {"select", t.select}, {"shuffle", t.shuffle}};
  // Tracking adds curves to the model artifact; only when set, so specs without it keep their model keys.
  if (!t.track.empty()) j["track"] = t.track;
  return j;
}

SplitRef split_ref(const Spec& spec, const PluginRegistry& plugins, const std::string& id, sdk::Split split) {
  const DatasetSpec& d = spec.datasets.at(id);
  auto task = plugins.task(d.task);
  SplitRef r{id, split,
             split == sdk::Split::Train ? d.train_examples : split == sdk::Split::Valid ? d.valid_examples : d.test_examples,
             sdk::Rng::derive(d.seed, sdk::split_name(split)), ""};
  r.key = Hasher()
              .field("dataset")
              .field(task->name())
              .field(task->version())
              .field(params_key_json(d.params, d.unkeyed).dump())
              .field(sdk::split_name(split))
              .field(std::to_string(r.seed))
              .field(std::to_string(r.examples))
              .hex();
  return r;
}

std::vector<Cell> plan_cells(const Spec& spec, const PluginRegistry& plugins) {
  std::vector<Cell> cells;
  std::vector<std::optional<double>> lrs(spec.grid.lrs.begin(), spec.grid.lrs.end());
  if (lrs.empty()) lrs.emplace_back();  // no sweep: each model's own lr, and cell ids without one
  for (const auto& train : spec.grid.train)
    for (const auto& model : spec.grid.models)
      for (const auto& lr : lrs)
        for (auto seed : spec.grid.seeds) {
          const ModelSpec& m = spec.models.at(model);
          Cell c;
          c.id = lr ? fmt::format("{}__{}__lr{}__s{}", train, model, *lr, seed)
                    : fmt::format("{}__{}__s{}", train, model, seed);
          c.train_dataset = train;
          c.model = model;
          c.seed = seed;
          c.lr = lr;
          c.settings = m.train;
          if (lr) c.settings.lr = *lr;
          c.train = split_ref(spec, plugins, train, sdk::Split::Train);
          c.valid = split_ref(spec, plugins, train, sdk::Split::Valid);
          for (const auto& t : spec.grid.test) c.tests.push_back(split_ref(spec, plugins, t, sdk::Split::Test));
          auto arch = plugins.architecture(m.architecture);
          c.model_key = Hasher()
                            .field("model")
                            .field(arch->name())
                            .field(arch->version())
                            .field(params_key_json(m.config, m.unkeyed).dump())
                            .field(c.train.key)
                            .field(c.valid.key)
                            .field(train_settings_json(c.settings).dump())
                            .field(std::to_string(seed))
                            .hex();
          Hasher r;
          r.field("result").field(c.model_key).field(kProbeVersion).field(spec.probe.key());
          for (const auto& t : c.tests) r.field(t.dataset).field(t.key);
          c.result_key = r.hex();
          cells.push_back(std::move(c));
        }
  return cells;
}

}  // namespace repro
