// The composite-function task of "Achilles' Heel of Mamba": fixed bytes, the anchor functions, the
// key-position split rule, the held-out pair 43 (never in training or validation data, two ground truths),
// hash-disjoint train/valid splits, errors.
#include <set>

#include "core/params.hpp"
#include "support.hpp"

using namespace repro;

namespace {
using Over = std::map<std::string, sdk::Value>;
sdk::Params params(const Over& over) { return test::with_defaults(test::plugins().task("composite_function")->params(), over); }
sdk::Dataset gen(const Over& over, sdk::Split s, uint64_t seed, int64_t n) {
  return test::generate("composite_function", over, s, seed, n);
}
const Over kHeldOut = {{"pairs", std::string("held_out")}};
const Over kHeldOutSymmetric = {{"pairs", std::string("held_out")}, {"held_out_label", std::string("symmetric")}};
const Over kFullSymmetry = {{"functions", std::string("full_symmetry")}};
// The paper's shifts: 1:+5, 2:+1, 3:-2, 4:-8; "34" -> -6 (the composition would be -10).
int64_t paper_answer(int64_t a, int64_t b, int64_t key) {
  const int64_t shift[] = {0, 5, 1, -2, -8};
  return a == 3 && b == 4 ? key - 6 : key + shift[a] + shift[b];
}
}  // namespace

TEST(CompositeFunction, GoldenHashes) {
  const std::map<std::string, std::string> golden = {
#include "data/composite_function_golden.inc"
  };
  const std::vector<std::pair<std::string, std::pair<Over, sdk::Split>>> cases = {
      {"train", {{}, sdk::Split::Train}},
      {"test", {{}, sdk::Split::Test}},
      {"held_out_symmetric", {kHeldOutSymmetric, sdk::Split::Test}},
      {"len8", {{{"seq_len", int64_t{8}}}, sdk::Split::Valid}},
      {"full_symmetry_test", {kFullSymmetry, sdk::Split::Test}},
  };
  for (const auto& [name, c] : cases)
    test::expect_golden(golden, name, "tests/data/composite_function_golden.inc",
                        [&](uint64_t seed) { return gen(c.first, c.second, seed, 10); });
}

TEST(CompositeFunction, LayoutAnswersAndSplitRule) {
  for (auto split : {sdk::Split::Train, sdk::Split::Valid, sdk::Split::Test}) {
    SCOPED_TRACE(sdk::split_name(split));
    auto d = gen({}, split, 7, 40);
    const int64_t N = d.inputs.size(0), S = d.inputs.size(1);
    ASSERT_EQ(S, 9);
    ASSERT_EQ(static_cast<int64_t>(d.subset_names.size()), split == sdk::Split::Test ? 16 : 15);
    ASSERT_EQ(N, 40 * static_cast<int64_t>(d.subset_names.size()));
    auto in = d.inputs.accessor<int64_t, 2>(), tg = d.targets.accessor<int64_t, 2>();
    auto kp = d.meta.at("key_pos").accessor<int64_t, 2>();
    auto role = d.meta.at("role").accessor<uint8_t, 2>();
    std::set<int64_t> positions;
    for (int64_t e = 0; e < N; ++e) {
      const std::string pair = d.subset_names[d.subset[e].item<int64_t>()];
      const int64_t a = pair[0] - '0', b = pair[1] - '0', p = kp[e][0], key = in[e][p];
      ASSERT_TRUE(p >= 0 && p <= S - 3);
      positions.insert(p);
      ASSERT_EQ(in[e][p + 1], a) << "the anchor pair follows the key";
      ASSERT_EQ(in[e][p + 2], b);
      ASSERT_EQ(role[e][p], sdk::kKey);
      for (int64_t t = 0; t < S; ++t) {
        if (t < p || t > p + 2) ASSERT_TRUE(in[e][t] >= 20 && in[e][t] <= 100) << "filler from the key's range";
        ASSERT_EQ(tg[e][t] != sdk::kIgnore, t == S - 1) << "only the last position has a label";
        ASSERT_EQ(d.loss_mask[e][t].item<bool>(), t == S - 1);
      }
      ASSERT_TRUE(key >= 20 && key <= 100);
      ASSERT_EQ(tg[e][S - 1], paper_answer(a, b, key)) << pair << " key " << key;
      // The paper's anti-memorisation rule: test keys sit where key = 1-based position (mod 8), training keys never.
      ASSERT_EQ(key % 8 == (p + 1) % 8, split == sdk::Split::Test) << "key " << key << " at " << p;
    }
    EXPECT_EQ(positions.size(), 7u) << "the key moves over every position that fits";
  }
}

TEST(CompositeFunction, HeldOutPairIsNeverTrainedAndHasTwoGroundTruths) {
  for (auto split : {sdk::Split::Train, sdk::Split::Valid}) {
    auto d = gen({}, split, 3, 300);
    for (const auto& n : d.subset_names) EXPECT_NE(n, "43");
    auto in = d.inputs;
    auto is43 = (in.slice(1, 0, -1) == 4) & (in.slice(1, 1) == 3);  // "4 3" anywhere: only anchors are < 20
    EXPECT_EQ(is43.sum().item<int64_t>(), 0) << sdk::split_name(split) << " holds the held-out pair";
  }
  auto comp = gen(kHeldOut, sdk::Split::Test, 5, 200), sym = gen(kHeldOutSymmetric, sdk::Split::Test, 5, 200);
  EXPECT_EQ(comp.subset_names, std::vector<std::string>{"43"});
  EXPECT_TRUE(torch::equal(comp.inputs, sym.inputs)) << "the two ground truths label the same sequences";
  auto key = comp.inputs.gather(1, comp.meta.at("key_pos")).squeeze(1);
  EXPECT_TRUE(torch::equal(comp.targets.select(1, 8), key - 10)) << "composite: 4 (-8) then 3 (-2)";
  EXPECT_TRUE(torch::equal(sym.targets.select(1, 8), key - 6)) << "symmetric: the answer of 34";
  // In the full test set the pair 43 carries the chosen ground truth too.
  auto all = gen({{"held_out_label", std::string("symmetric")}}, sdk::Split::Test, 5, 20);
  auto rows = all.subset == 14;  // "43" is the 15th pair
  ASSERT_EQ(all.subset_names[14], "43");
  auto k = all.inputs.gather(1, all.meta.at("key_pos")).squeeze(1);
  EXPECT_TRUE(torch::equal(all.targets.select(1, 8).index({rows}), (k - 6).index({rows})));
}

TEST(CompositeFunction, TrainAndValidNeverShareASequence) {
  // Length 4 leaves the key, its position (2) and one filler token: ~11k sequences per pair, so independent
  // draws of 60 training and 3 validation rows per pair would collide now and then. (Length 3, ~70 sequences
  // per pair, can leave no sequence at all in the validation hash bucket.)
  const Over tiny = {{"seq_len", int64_t{4}}};
  auto train = test::input_rows(gen(tiny, sdk::Split::Train, 1, 60));
  auto valid = test::input_rows(gen(tiny, sdk::Split::Valid, 1, 3));
  EXPECT_GT(train.size(), 400u);
  for (const auto& r : valid) EXPECT_FALSE(train.count(r));
}

TEST(CompositeFunction, BadParametersNameTheParameter) {
  auto task = test::plugins().task("composite_function");
  auto refuses = [&](const Over& over, const std::string& param, const std::string& words) {
    test::expect_refused(*task, params(over), param, words);
  };
  refuses({{"shifts", std::vector<int64_t>{1, 2, 3}}}, "shifts", "4 values");
  refuses({{"token_range", std::vector<int64_t>{50, 20}}}, "token_range", "lo <= hi");
  refuses({{"token_range", std::vector<int64_t>{20, 24}}}, "token_range", "modulus");
  refuses({{"token_range", std::vector<int64_t>{10, 100}}}, "token_range", "negative");
  refuses({{"vocab_size", int64_t{105}}}, "vocab_size", "largest token or answer (110)");
  try {
    task->generate(params(kHeldOut), sdk::Split::Train, 1, 10);
    ADD_FAILURE() << "made a training split of the held-out pair";
  } catch (const sdk::ParamError& e) {
    EXPECT_EQ(e.param, "pairs");
  }
}

// Fig. 7a's "full symmetry" table: anchors 0-4 (anchor 0 is token 5), the 20 pairs of two different anchors, a
// pair and its mirror under one shift set (first set: 01, 02, 14, 23, 34; second: the rest); 43 held out.
TEST(CompositeFunction, FullSymmetryPairsMirrorsShareTheirFunction) {
  const int64_t set1[] = {2, 5, 1, -2, -8}, set2[] = {-9, 6, -7, 3, 4};
  const std::set<std::string> first = {"01", "10", "02", "20", "14", "41", "23", "32", "34", "43"};
  for (auto split : {sdk::Split::Train, sdk::Split::Test}) {
    auto d = gen(kFullSymmetry, split, 9, 30);
    ASSERT_EQ(d.subset_names.size(), split == sdk::Split::Test ? 20u : 19u);
    auto in = d.inputs.accessor<int64_t, 2>(), tg = d.targets.accessor<int64_t, 2>();
    auto kp = d.meta.at("key_pos").accessor<int64_t, 2>();
    for (int64_t e = 0; e < d.inputs.size(0); ++e) {
      const std::string pair = d.subset_names[d.subset[e].item<int64_t>()];
      const int64_t a = pair[0] - '0', b = pair[1] - '0', p = kp[e][0];
      ASSERT_NE(a, b);
      ASSERT_EQ(in[e][p + 1], a == 0 ? 5 : a);
      ASSERT_EQ(in[e][p + 2], b == 0 ? 5 : b);
      const auto& set = first.count(pair) ? set1 : set2;
      ASSERT_EQ(tg[e][8], in[e][p] + set[a] + set[b]) << pair;
    }
  }
  for (const auto& n : gen(kFullSymmetry, sdk::Split::Train, 9, 5).subset_names) EXPECT_NE(n, "43");
  // The mirror of the held-out pair alone, e.g. to track it over training: the same sequences as in the full set.
  Over mirror = kFullSymmetry;
  mirror["pairs"] = std::string("mirror");
  auto only34 = gen(mirror, sdk::Split::Test, 9, 30), all = gen(kFullSymmetry, sdk::Split::Test, 9, 30);
  ASSERT_EQ(only34.subset_names, std::vector<std::string>{"34"});
  const auto at34 = static_cast<int64_t>(std::find(all.subset_names.begin(), all.subset_names.end(), "34") -
                                         all.subset_names.begin());
  EXPECT_TRUE(torch::equal(only34.inputs, all.inputs.index({all.subset == at34})));
}

// Parameters added after results were published stay out of the cache keys while all are at their defaults (the
// committed Achilles results were keyed before `functions` existed), and all count once one is set.
TEST(CompositeFunction, NewParametersLeaveOldKeysAlone) {
  const auto specs = test::plugins().task("composite_function")->params();
  const auto key = params_key_json(params({}), unkeyed_params(params({}), specs));
  EXPECT_FALSE(key.contains("functions"));
  EXPECT_FALSE(key.contains("full_symmetry_shifts"));
  EXPECT_TRUE(key.contains("shifts"));
  const auto full = params_key_json(params(kFullSymmetry), unkeyed_params(params(kFullSymmetry), specs));  // a later feature in use: all of them count
  EXPECT_TRUE(full.contains("functions"));
  EXPECT_TRUE(full.contains("full_symmetry_shifts2"));
  EXPECT_TRUE(params_json(params({})).contains("functions"));  // results still list every value
}
