// The inverse-sequence-matching task of "Achilles' Heel of Mamba": fixed bytes, the query is the reversed
// answer sequence, key sequences are distinct permutations of one generation set, separators and the prefix
// avoid the set, the residue-class split rule, the out-of-distribution range, disjoint splits, errors.
#include <algorithm>
#include <set>

#include "support.hpp"

using namespace repro;

namespace {
using Over = std::map<std::string, sdk::Value>;
sdk::Params params(const Over& over) {
  return test::with_defaults(test::plugins().task("inverse_sequence_matching")->params(), over);
}
sdk::Dataset gen(const Over& over, sdk::Split s, uint64_t seed, int64_t n) {
  return test::generate("inverse_sequence_matching", over, s, seed, n);
}
}  // namespace

TEST(InverseSequenceMatching, GoldenHashes) {
  const std::map<std::string, std::string> golden = {
#include "data/inverse_sequence_matching_golden.inc"
  };
  const std::vector<std::pair<std::string, std::pair<Over, sdk::Split>>> cases = {
      {"train", {{}, sdk::Split::Train}},
      {"test", {{}, sdk::Split::Test}},
      {"ood", {{{"values", std::string("ood")}}, sdk::Split::Test}},
      {"4layers", {{{"prefix", int64_t{12}}}, sdk::Split::Valid}},
  };
  for (const auto& [name, c] : cases)
    test::expect_golden(golden, name, "tests/data/inverse_sequence_matching_golden.inc",
                        [&](uint64_t seed) { return gen(c.first, c.second, seed, 10); });
}

TEST(InverseSequenceMatching, QueryIsTheReversedAnswerAndTheRestAvoidsTheSet) {
  struct Case {
    Over over;
    sdk::Split split;
    int64_t lo, hi;
    int same;  // 1: sets in one residue class mod 3, 0: never, -1: either
  };
  const std::vector<Case> cases = {{{}, sdk::Split::Train, 20, 100, 0},
                                   {{}, sdk::Split::Valid, 20, 100, 0},
                                   {{}, sdk::Split::Test, 20, 100, 1},
                                   {{{"values", std::string("mixed")}}, sdk::Split::Test, 20, 100, 0},
                                   {{{"values", std::string("ood")}}, sdk::Split::Test, 101, 200, -1}};
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(sdk::split_name(c.split)) + " " + std::to_string(c.lo));
    auto d = gen(c.over, c.split, 11, 300);
    const int64_t N = d.inputs.size(0), S = d.inputs.size(1), n = 3, K = 5;
    ASSERT_EQ(S, K * (n + 1) + 6 + n) << "the paper's 29 tokens for 2 layers";
    auto in = d.inputs.accessor<int64_t, 2>(), tg = d.targets.accessor<int64_t, 2>();
    std::vector<int64_t> labels(K + 1, 0);
    int same_class = 0;
    for (int64_t e = 0; e < N; ++e) {
      std::vector<int64_t> set(&in[e][0], &in[e][0] + n), sorted = set;
      std::sort(sorted.begin(), sorted.end());
      ASSERT_TRUE(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end()) << "distinct set";
      same_class += set[0] % 3 == set[1] % 3 && set[1] % 3 == set[2] % 3;
      std::set<std::vector<int64_t>> perms;
      for (int64_t j = 0; j < K; ++j) {
        std::vector<int64_t> seq(&in[e][j * (n + 1)], &in[e][j * (n + 1)] + n), s2 = seq;
        std::sort(s2.begin(), s2.end());
        ASSERT_EQ(s2, sorted) << "each key sequence is a permutation of the set";
        perms.insert(seq);
        ASSERT_FALSE(std::binary_search(sorted.begin(), sorted.end(), in[e][j * (n + 1) + n])) << "separator in the set";
      }
      ASSERT_EQ(static_cast<int64_t>(perms.size()), K) << "distinct permutations";
      for (int64_t t = K * (n + 1); t < S - n; ++t)
        ASSERT_FALSE(std::binary_search(sorted.begin(), sorted.end(), in[e][t])) << "prefix token in the set";
      for (int64_t t = 0; t < S; ++t) ASSERT_TRUE(in[e][t] >= c.lo && in[e][t] <= c.hi) << in[e][t];
      const int64_t label = tg[e][S - 1];
      ASSERT_TRUE(label >= 1 && label <= K);
      ++labels[label];
      for (int64_t t = 0; t < n; ++t)
        ASSERT_EQ(in[e][S - n + t], in[e][(label - 1) * (n + 1) + n - 1 - t]) << "query = answer reversed";
      for (int64_t t = 0; t < S - 1; ++t) ASSERT_EQ(tg[e][t], sdk::kIgnore);
    }
    if (c.same == 1) EXPECT_EQ(same_class, N);
    if (c.same == 0) EXPECT_EQ(same_class, 0);
    if (c.same == -1) EXPECT_TRUE(same_class > 0 && same_class < N);
    for (int64_t k = 1; k <= K; ++k) EXPECT_GT(labels[k], N / 10) << "answer " << k << " is rarely drawn";
  }
}

TEST(InverseSequenceMatching, SplitsNeverShareASequence) {
  // A tiny space: sets of 2 from 6 numbers, 2 keys, no prefix; the rule is the same for every split.
  const Over tiny = {{"set_size", int64_t{2}}, {"num_keys", int64_t{2}}, {"prefix", int64_t{0}},
                     {"values", std::string("mixed")}, {"modulus", int64_t{2}}, {"range", std::vector<int64_t>{20, 25}}};
  auto train = test::input_rows(gen(tiny, sdk::Split::Train, 1, 2000));
  auto test = test::input_rows(gen(tiny, sdk::Split::Test, 1, 50));
  EXPECT_GT(train.size(), 100u);
  for (const auto& r : test) EXPECT_FALSE(train.count(r));
}

TEST(InverseSequenceMatching, BadParametersNameTheParameter) {
  auto task = test::plugins().task("inverse_sequence_matching");
  auto refuses = [&](const Over& over, const std::string& param, const std::string& words) {
    test::expect_refused(*task, params(over), param, words);
  };
  refuses({{"num_keys", int64_t{7}}}, "num_keys", "6 permutations");
  refuses({{"vocab_size", int64_t{150}}}, "vocab_size", "ood_range");
  refuses({{"range", std::vector<int64_t>{3, 100}}}, "range", "above num_keys");
  refuses({{"range", std::vector<int64_t>{20, 30}}}, "range", "too small");
  refuses({{"ood_range", std::vector<int64_t>{101}}}, "ood_range", "[lo, hi]");
}
