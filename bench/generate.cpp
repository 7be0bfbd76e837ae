// repro-bench-generate: time the mqar task plugin on every variant at the paper's largest
// configuration (20,000 training examples of 512 tokens), one CPU thread. The bar:
// "well under a second of a CPU core per variant"; data generation must never matter next to training.
//   build/repro-bench-generate [--examples N] [--repeat R]
#include <fmt/format.h>

#include <chrono>
#include <cstring>

#include "../pipeline/core/plugins.hpp"

using namespace repro;

int main(int argc, char** argv) {
  int64_t examples = 20000, repeat = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--examples")) examples = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--repeat")) repeat = std::atoll(argv[i + 1]);
  }
  torch::set_num_threads(1);
  PluginRegistry reg(PluginRegistry::search_path({}));
  auto task = reg.task("mqar");
  using V = std::vector<int64_t>;
  using S = std::string;
  // Paper-scale (L = 512) configurations of each variant: the most pairs the paper's grid has there.
  const std::vector<std::pair<S, std::map<S, sdk::Value>>> variants = {
      {"standard n=128", {{"num_kv_pairs", V{128}}}},
      {"last n=128", {{"num_kv_pairs", V{128}}, {"position", S("last")}}},
      {"shuffle n=128", {{"num_kv_pairs", V{128}}, {"position", S("shuffle")}}},
      {"K2V2 n=32", {{"num_kv_pairs", V{32}}, {"format", S("sep")}, {"key_len", int64_t{2}}, {"value_len", int64_t{2}}}},
      {"K4V8-shuffle n=16", {{"num_kv_pairs", V{16}}, {"format", S("sep")}, {"key_len", int64_t{4}},
                             {"value_len", int64_t{8}}, {"position", S("shuffle")}}},
      {"K1V1* n=32", {{"num_kv_pairs", V{32}}, {"noise", S("regions")}}},
      {"K2V2* n=32", {{"num_kv_pairs", V{32}}, {"format", S("sep")}, {"key_len", int64_t{2}}, {"value_len", int64_t{2}},
                      {"noise", S("shared_suffix")}, {"power_a", 1.0}}},
  };
  fmt::print("mqar v{}: {} train examples x 512 tokens, best of {}, 1 thread\n", task->version(), examples, repeat);
  fmt::print("{:<20} {:>10} {:>14}\n", "variant", "seconds", "Mtokens/s");
  for (const auto& [name, over] : variants) {
    std::map<S, sdk::Value> v;
    for (const auto& p : task->params()) v[p.name] = p.default_value;
    v["seq_len"] = V{512};
    for (const auto& [k, x] : over) v[k] = x;
    sdk::Params params(v);
    task->check(params);
    double best = 1e30;
    for (int64_t r = 0; r < repeat; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      auto d = task->generate(params, sdk::Split::Train, 42 + r, examples);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    fmt::print("{:<20} {:>10.3f} {:>14.1f}\n", name, best, examples * 512 / best / 1e6);
  }
}
