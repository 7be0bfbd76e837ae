// Task plugin "composite_function": the composite-function task of "Achilles' Heel of Mamba" (Fig. 2,
// App. "Data setup"). A sequence of random tokens holds one key followed by an anchor pair; the label,
// predicted at the last position, is the pair's function of the key (anchors.hpp). One subset per pair.
// README.md gives the layout and the choices the paper leaves open.
#include <repro/sdk.hpp>

#include "anchors.hpp"

namespace {
using namespace repro::sdk;
using composite::Pair;

struct Layout {
  int64_t length, lo, hi, modulus;  // tokens (keys and filler) are in [lo, hi]
  // The paper's anti-memorisation rule: a test key sits at a 1-based position congruent to it modulo
  // `modulus`; a training key never does. So no (key, position) seen in training is tested.
  bool test_key(int64_t key, int64_t pos) const { return key % modulus == (pos + 1) % modulus; }
};

Layout layout_of(const Params& p) {
  const auto& r = p.ints("token_range");
  return {p.i("seq_len"), r.at(0), r.at(1), p.i("modulus")};
}

composite::Functions functions_of(const Params& p) {
  if (p.s("functions") == "full_symmetry") {
    const auto& s1 = p.ints("full_symmetry_shifts");
    const auto& s2 = p.ints("full_symmetry_shifts2");
    return composite::full_symmetry({s1.at(0), s1.at(1), s1.at(2), s1.at(3), s1.at(4)},
                                    {s2.at(0), s2.at(1), s2.at(2), s2.at(3), s2.at(4)});
  }
  const auto& s = p.ints("shifts");
  return composite::standard({s.at(0), s.at(1), s.at(2), s.at(3)}, p.i("pair34_shift"));
}

class CompositeFunction final : public Task {
 public:
  std::string name() const override { return "composite_function"; }
  std::string version() const override { return "1"; }
  std::string description() const override {
    return "Achilles' Heel composite functions: key + anchor pair -> the pair's function of the key; pair 43 held out";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"vocab_size", ParamType::Int, int64_t{201}, "token ids [0, V): 0 pad, 1-4 anchors, keys/filler/answers above",
         8, 1 << 20},
        {"seq_len", ParamType::Int, int64_t{9}, "tokens per sequence (the paper's figures show 9, its text says 8)", 3,
         4096},
        {"token_range", ParamType::IntList, std::vector<int64_t>{20, 100},
         "[lo, hi]: keys and filler are drawn uniformly from lo..hi", 5, 1 << 20},
        {"modulus", ParamType::Int, int64_t{8},
         "split rule: a test key is congruent to its 1-based position modulo this, a training key is not", 2, 4096},
        {"shifts", ParamType::IntList, std::vector<int64_t>{5, 1, -2, -8},
         "anchor a (1..4) adds shifts[a-1] to the key; a pair ab adds shifts[a-1] + shifts[b-1]", -4096, 4096},
        {"pair34_shift", ParamType::Int, int64_t{-6}, "the pair 34's own shift (not the composition)", -4096, 4096},
        {"pairs", ParamType::String, std::string("all"),
         "all: every pair (the train and valid splits never hold the held-out pair 43); held_out: only 43 "
         "(test only); mirror: only 34, the held-out pair's mirror (e.g. to track it over training)",
         {}, {}, {"all", "held_out", "mirror"}},
        {"functions", ParamType::String, std::string("standard"),
         "standard: anchors 1-4 (shifts, pair34_shift); full_symmetry: the paper's Fig. 7a table, anchors 0-4 (token "
         "5 for anchor 0), the 20 pairs of two different anchors, a pair and its mirror sharing one function",
         {}, {}, {"standard", "full_symmetry"}, /*in_key_at_default=*/false},
        {"full_symmetry_shifts", ParamType::IntList, std::vector<int64_t>{2, 5, 1, -2, -8},
         "full_symmetry: anchor a (0..4) shifts of the first set (pairs 01, 02, 14, 23, 34 and mirrors)", -4096, 4096,
         {}, /*in_key_at_default=*/false},
        {"full_symmetry_shifts2", ParamType::IntList, std::vector<int64_t>{-9, 6, -7, 3, 4},
         "full_symmetry: shifts of the second set (the other pairs); the paper gives no value for anchor 4 (ours: 4)",
         -4096, 4096, {}, /*in_key_at_default=*/false},
        {"held_out_label", ParamType::String, std::string("composite"),
         "ground truth of the pair 43: composite (key + shift4 + shift3) or symmetric (the answer of 34)", {}, {},
         {"composite", "symmetric"}},
    };
  }
  void check(const Params& p) const override {
    const auto& r = p.ints("token_range");
    if (r.size() != 2 || r[0] > r[1])
      throw ParamError("token_range", "token_range must be [lo, hi] with lo <= hi");
    if (p.ints("shifts").size() != 4) throw ParamError("shifts", "shifts must hold one shift per anchor (4 values)");
    for (const char* k : {"full_symmetry_shifts", "full_symmetry_shifts2"})
      if (p.ints(k).size() != 5) throw ParamError(k, std::string(k) + " must hold one shift per anchor 0-4 (5 values)");
    const Layout l = layout_of(p);
    const auto f = functions_of(p);
    if (l.hi - l.lo + 1 < l.modulus)
      throw ParamError("token_range", "token_range must hold at least `modulus` values, so that every position has "
                                      "both training and test keys");
    if (l.lo + f.min_shift() < 0)
      throw ParamError("token_range", "the smallest answer (" + std::to_string(l.lo + f.min_shift()) +
                                          ") is negative: raise token_range's lo");
    if (l.hi + std::max<int64_t>(f.max_shift(), 0) >= p.i("vocab_size"))
      throw ParamError("vocab_size", "vocab_size must exceed the largest token or answer (" +
                                         std::to_string(l.hi + std::max<int64_t>(f.max_shift(), 0)) + ")");
  }
  int64_t vocab_size(const Params& p) const override { return p.i("vocab_size"); }
  int64_t seq_len(const Params& p) const override { return p.i("seq_len"); }

  Dataset generate(const Params& p, Split split, uint64_t seed, int64_t count) const override {
    const std::string& only = p.s("pairs");
    if (only == "held_out" && split != Split::Test && count > 0)  // validation steers training (best_valid_loss), so it is excluded too
      throw ParamError("pairs", "pairs = \"held_out\" cannot make a " + std::string(split_name(split)) +
                                    " split: the pair 43 is only ever tested (set train_examples = valid_examples = 0)");
    const Layout l = layout_of(p);
    const auto f = functions_of(p);
    std::vector<Pair> pairs;
    for (const auto& q : f.pairs(split == Split::Test))  // training and validation never see 43
      if (only == "all" || (only == "held_out" && q.held_out()) || (only == "mirror" && q.name() == "34"))
        pairs.push_back(q);
    const bool symmetric = p.s("held_out_label") == "symmetric";
    const int64_t S = l.length, N = count * static_cast<int64_t>(pairs.size());

    Dataset d;
    d.inputs = torch::empty({N, S}, torch::kInt64);
    d.targets = torch::full({N, S}, kIgnore, torch::kInt64);
    d.loss_mask = torch::zeros({N, S}, torch::kBool);
    d.answer_group = torch::full({N, S}, -1, torch::kInt64);
    d.subset = torch::empty({N}, torch::kInt64);
    auto role = torch::full({N, S}, static_cast<int64_t>(kFiller), torch::kUInt8);
    auto key_pos = torch::empty({N, 1}, torch::kInt64);
    // Only the last position is scored and trained on (the paper's loss).
    d.loss_mask.select(1, S - 1).fill_(true);
    d.answer_group.select(1, S - 1).fill_(0);
    int64_t *in = d.inputs.data_ptr<int64_t>(), *tg = d.targets.data_ptr<int64_t>(), *kp = key_pos.data_ptr<int64_t>(),
            *sub = d.subset.data_ptr<int64_t>();
    uint8_t* ro = role.data_ptr<uint8_t>();

    const bool test_keys = split == Split::Test;
    int64_t row = 0;
    for (size_t s = 0; s < pairs.size(); ++s) {
      const Pair pair = pairs[s];
      d.subset_names.push_back(pair.name());
      Rng rng(Rng::derive(seed, pair.name()));  // a pair's examples do not depend on which other pairs exist
      int64_t attempts = 0;
      for (int64_t k = 0; k < count; ++k, ++row) {
        int64_t* x = in + row * S;
        int64_t pos;
        SplitHash h;
        do {
          if (++attempts > 64 * count + 10000)
            throw ParamError("token_range", "pair " + pair.name() + ": too few distinct sequences to draw " +
                                                std::to_string(count) + " for the " + split_name(split) + " split");
          for (int64_t t = 0; t < S; ++t) x[t] = rng.uniform(l.lo, l.hi + 1);
          pos = rng.uniform(0, S - 2);  // key, anchor a, anchor b are consecutive
          int64_t key;
          do key = rng.uniform(l.lo, l.hi + 1);
          while (l.test_key(key, pos) != test_keys);
          x[pos] = key, x[pos + 1] = composite::anchor_token(pair.a), x[pos + 2] = composite::anchor_token(pair.b);
          h = SplitHash();
          h.add(x, x + S);
        } while (h.split() != split);  // disjoint train/valid (the key rule already separates test)
        const int64_t key = x[pos];
        tg[row * S + S - 1] = symmetric ? f.symmetric(pair, key) : f.composite(pair, key);
        ro[row * S + pos] = kKey;
        ro[row * S + pos + 1] = ro[row * S + pos + 2] = kQuery;
        kp[row] = pos;
        sub[row] = static_cast<int64_t>(s);
      }
    }
    d.meta = {{"role", role}, {"key_pos", key_pos}};
    return d;
  }
};

}  // namespace

REPRO_REGISTER_TASK(CompositeFunction)
