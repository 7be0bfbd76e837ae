// Task plugin "mqar": standard multi-query associative recall, zoology-compatible layout.
//
// Sequence of length L: a KV block k1 v1 ... kn vn at the start, then n queries placed in the
// remaining (L - 2n)/2 two-token slots with the power-law gap distribution P(slot i) ∝ a·i^(a-1)
// (a = power_a; slots right after the block are favoured). The target for query j sits at the query
// key's position (the model must output v_j there); the token after each query key is filler, so the
// answer is never visible. Keys are distinct draws from [1, V/2), values distinct draws from [V/2, V);
// every other position is filler (uniform [0, V) tokens, or 0 with filler = "zero"), as zoology's
// multiquery_ar with random_non_queries. See README.md for the deviations from zoology's exact bytes.
#include <repro/sdk.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace {
using namespace repro::sdk;

class Mqar final : public Task {
 public:
  std::string name() const override { return "mqar"; }
  std::string version() const override { return "1"; }
  std::string description() const override {
    return "Multi-query associative recall (standard layout: KV block first, power-law query gaps)";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"vocab_size", ParamType::Int, int64_t{8192}, "token ids in [0, V): keys [1, V/2), values [V/2, V)", 8, 1 << 24},
        {"seq_len", ParamType::Int, int64_t{64}, "sequence length L (even)", 4, 1 << 20},
        {"num_kv_pairs", ParamType::IntList, std::vector<int64_t>{8},
         "key-value pairs per example; several values = several subsets, examples split evenly", 1, 1 << 20},
        {"power_a", ParamType::Float, 0.01, "query-gap power law exponent a (1 = uniform)", 1e-6, 1.0},
        {"filler", ParamType::String, std::string("random"), "non-KV, non-query positions", {}, {}, {"random", "zero"}},
    };
  }
  void check(const Params& p) const override {
    const int64_t v = p.i("vocab_size"), l = p.i("seq_len");
    if (l % 2) throw ParamError("seq_len", "expected an even sequence length, got " + std::to_string(l));
    if (v <= l) throw ParamError("vocab_size", "expected vocab_size > seq_len (zoology's constraint)");
    for (int64_t n : p.ints("num_kv_pairs")) {
      if (4 * n > l)
        throw ParamError("num_kv_pairs", "n = " + std::to_string(n) + " pairs need 4n <= seq_len = " + std::to_string(l));
      if (n > v / 2 - 1) throw ParamError("num_kv_pairs", "more pairs than distinct keys in [1, vocab_size/2)");
    }
  }
  int64_t vocab_size(const Params& p) const override { return p.i("vocab_size"); }
  int64_t seq_len(const Params& p) const override { return p.i("seq_len"); }

  Dataset generate(const Params& p, Split, uint64_t seed, int64_t count) const override {
    const int64_t V = p.i("vocab_size"), L = p.i("seq_len");
    const auto& pairs = p.ints("num_kv_pairs");
    const int64_t nmax = *std::max_element(pairs.begin(), pairs.end());
    const bool random_filler = p.s("filler") == "random";
    const double a = p.f("power_a");

    Dataset d;
    d.inputs = torch::zeros({count, L}, torch::kInt64);
    d.targets = torch::full({count, L}, kIgnore, torch::kInt64);
    d.loss_mask = torch::zeros({count, L}, torch::kBool);
    d.answer_group = torch::full({count, L}, -1, torch::kInt64);
    d.subset = torch::zeros({count}, torch::kInt64);
    for (int64_t n : pairs) d.subset_names.push_back("L" + std::to_string(L) + "-n" + std::to_string(n));
    auto key_pos = torch::full({count, nmax}, -1, torch::kInt64), value_pos = key_pos.clone(), query_pos = key_pos.clone();

    auto in = d.inputs.accessor<int64_t, 2>();
    auto tg = d.targets.accessor<int64_t, 2>();
    auto lm = d.loss_mask.accessor<bool, 2>();
    auto ag = d.answer_group.accessor<int64_t, 2>();
    auto sub = d.subset.accessor<int64_t, 1>();
    auto kp = key_pos.accessor<int64_t, 2>(), vp = value_pos.accessor<int64_t, 2>(), qp = query_pos.accessor<int64_t, 2>();
    Rng rng(seed);
    std::vector<bool> used(static_cast<size_t>(L));
    for (int64_t e = 0; e < count; ++e) {
      const int64_t s = e % static_cast<int64_t>(pairs.size()), n = pairs[s];
      sub[e] = s;
      auto keys = distinct(rng, n, 1, V / 2), values = distinct(rng, n, V / 2, V);
      auto slots = power_law_slots(rng, n, (L - 2 * n) / 2, a);
      std::fill(used.begin(), used.end(), false);
      for (int64_t j = 0; j < n; ++j) {
        in[e][2 * j] = keys[j];
        in[e][2 * j + 1] = values[j];
        used[2 * j] = used[2 * j + 1] = true;
        const int64_t q = 2 * n + 2 * slots[j];
        in[e][q] = keys[j];
        used[q] = true;
        tg[e][q] = values[j];
        lm[e][q] = true;
        ag[e][q] = j;
        kp[e][j] = 2 * j;
        vp[e][j] = 2 * j + 1;
        qp[e][j] = q;
      }
      for (int64_t t = 0; t < L; ++t)
        if (!used[t]) in[e][t] = random_filler ? rng.uniform(0, V) : 0;
    }
    d.meta = {{"key_pos", key_pos}, {"value_pos", value_pos}, {"query_pos", query_pos}};
    return d;
  }

 private:
  // n distinct integers uniform in [lo, hi), in draw order.
  static std::vector<int64_t> distinct(Rng& rng, int64_t n, int64_t lo, int64_t hi) {
    std::vector<int64_t> out;
    while (static_cast<int64_t>(out.size()) < n) {
      int64_t x = rng.uniform(lo, hi);
      if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
    }
    return out;
  }
  // n distinct slots of S, weighted w_i = a·i^(a-1) (i = 1..S), without replacement, in draw order
  // (Efraimidis–Spirakis keys log(u)/w: the largest n keys, descending, are a successive weighted draw).
  static std::vector<int64_t> power_law_slots(Rng& rng, int64_t n, int64_t S, double a) {
    std::vector<std::pair<double, int64_t>> keys(static_cast<size_t>(S));
    for (int64_t i = 0; i < S; ++i) {
      const double w = a * std::pow(static_cast<double>(i + 1), a - 1);
      double u = rng.uniform01();
      while (u <= 0) u = rng.uniform01();
      keys[i] = {std::log(u) / w, i};
    }
    std::partial_sort(keys.begin(), keys.begin() + n, keys.end(), [](auto& x, auto& y) { return x.first > y.first; });
    std::vector<int64_t> out(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) out[j] = keys[j].second;
    return out;
  }
};

}  // namespace

REPRO_REGISTER_TASK(Mqar)
