#include "generate.hpp"

#include <fmt/format.h>

#include <chrono>

#include "../core/dataset_io.hpp"
#include "../core/log.hpp"
#include "../core/params.hpp"
#include "../core/plugins.hpp"

namespace repro {

std::filesystem::path ensure_split(const Store& store, const PluginRegistry& plugins, const Spec& spec,
                                   const SplitRef& s) {
  if (auto d = store.find("dataset", s.key)) return *d;
  auto lock = store.lock("dataset", s.key);
  if (auto d = store.find("dataset", s.key)) return *d;  // another process made it meanwhile
  const DatasetSpec& ds = spec.datasets.at(s.dataset);
  auto task = plugins.task(ds.task);
  auto t0 = std::chrono::steady_clock::now();
  sdk::Dataset data = task->generate(ds.params, s.split, s.seed, s.examples);
  const std::string who = ds.loc.str() + ": dataset '" + s.dataset + "' (" + sdk::split_name(s.split) + ")";
  check_dataset(data, task->vocab_size(ds.params), who);
  const int64_t expected = s.examples * static_cast<int64_t>(data.subset_names.size());
  if (data.inputs.size(0) != expected)
    throw StageError(fmt::format("{}: task returned {} examples, expected {} ({} per subset x {} subsets)", who,
                                 data.inputs.size(0), expected, s.examples, data.subset_names.size()));
  auto b = store.build("dataset", s.key);
  save_dataset(b.dir(), data);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto dir = b.commit({{"task", task->name()}, {"task_version", task->version()}, {"params", params_json(ds.params)},
                       {"split", sdk::split_name(s.split)}, {"seed", s.seed}, {"examples_per_subset", s.examples}, {"examples", expected},
                       {"vocab_size", task->vocab_size(ds.params)}, {"seq_len", task->seq_len(ds.params)},
                       {"seconds", secs}});
  log::info("generated {} {} split: {} examples in {:.2f}s", s.dataset, sdk::split_name(s.split), expected, secs);
  return dir;
}

}  // namespace repro
