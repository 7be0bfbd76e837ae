// Task plugin "inverse_sequence_matching": the inverse-sequence-matching task of "Achilles' Heel of Mamba"
// (Fig. 3, App. "Data setup"). A generation set G of distinct numbers; `num_keys` distinct permutations of G
// (the key sequences), each followed by a separator outside G; a prefix of random numbers outside G as long
// as the convolutions' receptive field, so a convolution cannot reach back to the keys; then the query =
// one key sequence reversed. The label, predicted at the query's last token, is the index (1-based) of
// that key sequence. README.md gives the layout and the choices the paper leaves open.
#include <repro/sdk.hpp>

#include <algorithm>
#include <numeric>

namespace {
using namespace repro::sdk;

struct Layout {
  int64_t set_size, num_keys, prefix;
  int64_t key_block() const { return set_size + 1; }  // a permutation and its separator
  int64_t length() const { return num_keys * key_block() + prefix + set_size; }
};

Layout layout_of(const Params& p) { return {p.i("set_size"), p.i("num_keys"), p.i("prefix")}; }

// Which generation sets a split draws. The paper: training sets are not all in one residue class
// modulo 3, test sets are; out-of-distribution sets (and every other token) come from a disjoint range.
enum class Sets { Mixed, Same, Any };
struct Draw {
  Sets sets;
  int64_t lo, hi;  // every token of the example is in [lo, hi]
};

Draw draw_of(const Params& p, Split split) {
  const std::string& v = p.s("values");
  const auto& r = p.ints(v == "ood" ? "ood_range" : "range");
  const Sets s = v == "ood" ? Sets::Any
                 : v == "mixed" ? Sets::Mixed
                 : v == "same"  ? Sets::Same
                                : (split == Split::Test ? Sets::Same : Sets::Mixed);
  return {s, r.at(0), r.at(1)};
}

int64_t factorial(int64_t n) { return n <= 1 ? 1 : n * factorial(n - 1); }

class InverseSequenceMatching final : public Task {
 public:
  std::string name() const override { return "inverse_sequence_matching"; }
  std::string version() const override { return "1"; }
  std::string description() const override {
    return "Achilles' Heel inverse sequence matching: find the key sequence whose reversal is the query";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"vocab_size", ParamType::Int, int64_t{201}, "token ids [0, V): 0 pad, 1..num_keys answers, numbers above",
         8, 1 << 20},
        {"set_size", ParamType::Int, int64_t{3}, "numbers in the generation set (= tokens per key sequence)", 2, 6},
        {"num_keys", ParamType::Int, int64_t{5}, "key sequences (distinct permutations of the set); chance = 1/num_keys",
         2, 64},
        {"prefix", ParamType::Int, int64_t{6},
         "random tokens before the query: the convolutions' receptive field, (d_conv - 1) x layers (paper: 3L)", 0,
         4096},
        {"values", ParamType::String, std::string("split"),
         "generation sets: split (train/valid: not all in one residue class mod `modulus`; test: all in one), "
         "mixed, same (either rule for every split), or ood (every token from ood_range, no residue rule)",
         {}, {}, {"split", "mixed", "same", "ood"}},
        {"modulus", ParamType::Int, int64_t{3}, "residue classes of the split rule", 2, 64},
        {"range", ParamType::IntList, std::vector<int64_t>{20, 100}, "[lo, hi] of every number (values != ood)", 1,
         1 << 20},
        {"ood_range", ParamType::IntList, std::vector<int64_t>{101, 200}, "[lo, hi] of every number (values = ood)", 1,
         1 << 20},
    };
  }
  void check(const Params& p) const override {
    const Layout l = layout_of(p);
    if (l.num_keys > factorial(l.set_size))
      throw ParamError("num_keys", "num_keys = " + std::to_string(l.num_keys) + " exceeds the " +
                                       std::to_string(factorial(l.set_size)) + " permutations of the set");
    for (const char* key : {"range", "ood_range"}) {
      const auto& r = p.ints(key);
      if (r.size() != 2 || r[0] > r[1]) throw ParamError(key, std::string(key) + " must be [lo, hi] with lo <= hi");
      if (r[0] <= l.num_keys)
        throw ParamError(key, std::string(key) + " must start above num_keys: ids 1.." + std::to_string(l.num_keys) +
                                  " are the answers");
      if (r[1] >= p.i("vocab_size"))
        throw ParamError("vocab_size", "vocab_size must exceed " + std::string(key) + "'s hi (" +
                                           std::to_string(r[1]) + ")");
      // Each residue class needs a whole set, and some number must remain for separators and the prefix.
      if ((r[1] - r[0] + 1) / p.i("modulus") < l.set_size + 1)
        throw ParamError(key, std::string(key) + " is too small: every residue class modulo `modulus` needs " +
                                  std::to_string(l.set_size + 1) + " numbers");
    }
  }
  int64_t vocab_size(const Params& p) const override { return p.i("vocab_size"); }
  int64_t seq_len(const Params& p) const override { return layout_of(p).length(); }

  Dataset generate(const Params& p, Split split, uint64_t seed, int64_t count) const override {
    const Layout l = layout_of(p);
    const Draw dr = draw_of(p, split);
    const int64_t S = l.length(), N = count, K = l.num_keys, n = l.set_size, m = p.i("modulus");

    Dataset d;
    d.inputs = torch::empty({N, S}, torch::kInt64);
    d.targets = torch::full({N, S}, kIgnore, torch::kInt64);
    d.loss_mask = torch::zeros({N, S}, torch::kBool);
    d.answer_group = torch::full({N, S}, -1, torch::kInt64);
    d.subset = torch::zeros({N}, torch::kInt64);
    d.subset_names = {p.s("values") == "split" ? std::string(split == Split::Test ? "same" : "mixed") : p.s("values")};
    // Only the query's last token is scored and trained on (the paper's loss).
    d.loss_mask.select(1, S - 1).fill_(true);
    d.answer_group.select(1, S - 1).fill_(0);

    // Roles and positions are the same in every example.
    auto role = torch::full({S}, static_cast<int64_t>(kFiller), torch::kUInt8);
    auto key_pos = torch::empty({K}, torch::kInt64);
    for (int64_t j = 0; j < K; ++j) {
      key_pos[j] = j * l.key_block();
      role.narrow(0, j * l.key_block(), n).fill_(static_cast<int64_t>(kKey));
      role[j * l.key_block() + n] = static_cast<int64_t>(kSeparator);
    }
    role.narrow(0, S - n, n).fill_(static_cast<int64_t>(kQuery));

    // All permutations of 0..n-1, in lexicographic order.
    std::vector<std::vector<int64_t>> perms;
    std::vector<int64_t> idx(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), 0);
    do perms.push_back(idx);
    while (std::next_permutation(idx.begin(), idx.end()));

    int64_t *in = d.inputs.data_ptr<int64_t>(), *tg = d.targets.data_ptr<int64_t>();
    Rng rng(Rng::derive(seed, "inverse_sequence_matching"));
    std::vector<int64_t> set(static_cast<size_t>(n)), order(perms.size());
    int64_t attempts = 0;
    for (int64_t row = 0; row < N; ++row) {
      int64_t* x = in + row * S;
      int64_t answer;
      SplitHash h;
      do {
        if (++attempts > 64 * count + 10000)
          throw ParamError("range", "too few distinct sequences to draw " + std::to_string(count) + " for the " +
                                        split_name(split) + " split");
        draw_set(rng, dr, m, set);
        auto outside = [&] {  // a number not in the generation set
          int64_t t;
          do t = rng.uniform(dr.lo, dr.hi + 1);
          while (std::find(set.begin(), set.end(), t) != set.end());
          return t;
        };
        std::iota(order.begin(), order.end(), 0);
        for (int64_t j = 0; j < K; ++j) {  // K distinct permutations, in random order
          std::swap(order[j], order[rng.uniform(j, static_cast<int64_t>(order.size()))]);
          for (int64_t t = 0; t < n; ++t) x[j * l.key_block() + t] = set[perms[order[j]][t]];
          x[j * l.key_block() + n] = outside();
        }
        for (int64_t t = K * l.key_block(); t < S - n; ++t) x[t] = outside();
        answer = rng.uniform(0, K);
        const int64_t* a = x + answer * l.key_block();
        std::reverse_copy(a, a + n, x + S - n);
        h = SplitHash();
        h.add(x, x + S);
      } while (h.split() != split);  // train, valid and test never share a sequence
      tg[row * S + S - 1] = answer + 1;
    }
    d.meta = {{"role", role.unsqueeze(0).expand({N, S}).contiguous()},
              {"key_pos", key_pos.unsqueeze(0).expand({N, K}).contiguous()},
              {"query_pos", torch::full({N, 1}, S - n, torch::kInt64)}};
    return d;
  }

 private:
  // n distinct numbers of [lo, hi] obeying the residue rule.
  static void draw_set(Rng& rng, const Draw& dr, int64_t m, std::vector<int64_t>& set) {
    for (;;) {
      for (size_t i = 0; i < set.size(); ++i) {
        int64_t t;
        do t = rng.uniform(dr.lo, dr.hi + 1);
        while (std::find(set.begin(), set.begin() + static_cast<int64_t>(i), t) != set.begin() + static_cast<int64_t>(i));
        set[i] = t;
      }
      if (dr.sets == Sets::Any) return;
      const bool same = std::all_of(set.begin(), set.end(), [&](int64_t t) { return t % m == set[0] % m; });
      if (same == (dr.sets == Sets::Same)) return;
    }
  }
};

}  // namespace

REPRO_REGISTER_TASK(InverseSequenceMatching)
