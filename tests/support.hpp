// Test helpers: the build tree's plugins, scratch directories, spec files.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>

#include "core/dataset_io.hpp"
#include "core/hash.hpp"
#include "core/plugins.hpp"
#include "stages/run.hpp"

namespace repro::test {

inline const PluginRegistry& plugins() {
  static PluginRegistry reg(PluginRegistry::search_path({}));
  return reg;
}

// A plugin's declared defaults with `over` applied (names are not checked: a typo shows as a missing default).
inline sdk::Params with_defaults(const std::vector<sdk::ParamSpec>& specs, const std::map<std::string, sdk::Value>& over) {
  std::map<std::string, sdk::Value> v;
  for (const auto& p : specs) v[p.name] = p.default_value;
  for (const auto& [k, x] : over) v[k] = x;
  return sdk::Params(v);
}

// SHA-1 of every tensor of a generated dataset (golden-hash tests: fixed seed -> fixed bytes on every machine).
inline std::string bytes_hash(const sdk::Dataset& d) {
  Hasher h;
  std::vector<torch::Tensor> ts = {d.inputs, d.targets, d.loss_mask.to(torch::kInt64), d.answer_group, d.subset};
  for (const auto& [k, v] : d.meta) ts.push_back(v);
  for (const auto& t : ts)
    h.add(std::string_view(static_cast<const char*>(t.contiguous().data_ptr()), t.numel() * t.element_size()));
  return h.hex();
}

// Task `name` with its defaults and `over`: checked, generated, and the result checked like the pipeline does.
inline sdk::Dataset generate(const std::string& name, const std::map<std::string, sdk::Value>& over, sdk::Split split,
                             uint64_t seed, int64_t n) {
  auto task = plugins().task(name);
  auto p = with_defaults(task->params(), over);
  task->check(p);
  auto d = task->generate(p, split, seed, n);
  check_dataset(d, task->vocab_size(p), name);
  return d;
}

// Golden-hash check of one case: `gen(seed)` is deterministic, depends on the seed, and matches `golden[name]`
// (recorded in `inc`; a missing entry prints the line to add).
inline void expect_golden(const std::map<std::string, std::string>& golden, const std::string& name,
                          const std::string& inc, const std::function<sdk::Dataset(uint64_t)>& gen) {
  const std::string h = bytes_hash(gen(1234));
  EXPECT_EQ(h, bytes_hash(gen(1234))) << name << " not deterministic";
  EXPECT_NE(h, bytes_hash(gen(1235))) << name << " ignores the seed";
  EXPECT_TRUE(golden.count(name)) << "add to " << inc << ": {\"" << name << "\", \"" << h << "\"},";
  if (golden.count(name)) EXPECT_EQ(h, golden.at(name)) << name << ": bump the task's version() if this is deliberate";
}

// The distinct input rows of a dataset (split-disjointness tests).
inline std::set<std::vector<int64_t>> input_rows(const sdk::Dataset& d) {
  std::set<std::vector<int64_t>> s;
  auto x = d.inputs.contiguous();
  for (int64_t e = 0; e < x.size(0); ++e) s.insert({x[e].data_ptr<int64_t>(), x[e].data_ptr<int64_t>() + x.size(1)});
  return s;
}

// `task` must refuse `p` with a ParamError naming `param` whose message contains `words`.
template <class Plugin>
void expect_refused(const Plugin& plugin, const sdk::Params& p, const std::string& param, const std::string& words) {
  try {
    plugin.check(p);
    ADD_FAILURE() << "accepted: expected an error about " << param << " saying " << words;
  } catch (const sdk::ParamError& e) {
    EXPECT_EQ(e.param, param) << e.what();
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

// A fresh directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("repro-test-" + std::string(info ? info->name() : "x") + "-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter()++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    auto p = path_ / name;
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::filesystem::path path_;
};

// A small valid spec; tests patch pieces of it.
// Run options that keep everything (store, results, reports) inside `dir`, on the CPU, without a PDF.
inline RunOptions cpu_options(const TempDir& dir) {
  RunOptions o;
  o.store_dir = dir.path() / "store";
  o.results_root = dir.path() / "results";
  o.reports_dir = dir.path() / "reports";
  o.pdf = false;
  o.device = "cpu";
  return o;
}

inline std::string tiny_spec(const std::string& extra_train = "") {
  return std::string(R"([experiment]
name = "tiny"

[datasets.mqar]
task = "mqar"
train_examples = 256
valid_examples = 32
test_examples = 64
params = { vocab_size = 32, seq_len = 16, num_kv_pairs = [2] }

[models.tf]
architecture = "transformer"
config = { d_model = 32, n_layers = 1, n_heads = 2 }

[train]
batch_size = 32
)") + (extra_train.find("epochs") == std::string::npos ? "epochs = 2\n" : "") + extra_train + R"(
[grid]
train = ["mqar"]
test = ["mqar"]
models = ["tf"]
seeds = [0]
)";
}

}  // namespace repro::test
