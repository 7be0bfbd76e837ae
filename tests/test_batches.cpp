// Length-bucketed training batches: no batch mixes lengths, every example once per epoch, replayable.
#include <set>

#include "stages/batches.hpp"
#include "support.hpp"

using namespace repro;

namespace {
sdk::Dataset with_lengths(std::vector<int64_t> lengths) {
  sdk::Dataset d;
  const int64_t n = static_cast<int64_t>(lengths.size());
  d.inputs = torch::zeros({n, 16}, torch::kInt64);
  d.meta["length"] = torch::tensor(lengths, torch::kInt64);
  return d;
}
}  // namespace

TEST(Batches, EqualLengthsOnlyEveryExampleOnceAndDeterministic) {
  std::vector<int64_t> lengths;
  for (int i = 0; i < 50; ++i) lengths.push_back(i % 3 == 0 ? 16 : i % 3 == 1 ? 8 : 4);
  auto d = with_lengths(lengths);
  auto a = epoch_batches(d, 4, 7, 0, true);
  std::multiset<int64_t> seen;
  bool interleaved = false;
  for (size_t b = 0; b < a.size(); ++b) {
    auto rows = a[b].rows;
    EXPECT_LE(rows.size(0), 4);
    for (int64_t i = 0; i < rows.size(0); ++i) {
      const int64_t r = rows[i].item<int64_t>();
      EXPECT_EQ(lengths[r], a[b].length) << "a batch holds one length and is cut to it";
      seen.insert(r);
    }
    if (b > 0 && a[b].length != a[b - 1].length) interleaved = true;
  }
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 50u);
  EXPECT_EQ(a.size(), 5u + 5u + 4u);  // ceil(17/4) + ceil(17/4) + ceil(16/4)
  EXPECT_TRUE(interleaved);
  auto again = epoch_batches(d, 4, 7, 0, true);
  auto other = epoch_batches(d, 4, 7, 1, true);
  bool same = true, differs = false;
  for (size_t b = 0; b < a.size(); ++b) {
    same &= torch::equal(a[b].rows, again[b].rows);
    differs |= !torch::equal(a[b].rows, other[b].rows);
  }
  EXPECT_TRUE(same) << "a resumed run must replay the same batches";
  EXPECT_TRUE(differs) << "epochs are shuffled differently";
}

TEST(Batches, WithoutLengthMetaTheFullWidthIsUsedInOrder) {
  sdk::Dataset d;
  d.inputs = torch::zeros({10, 16}, torch::kInt64);
  auto b = epoch_batches(d, 4, 0, 0, false);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].length, 16);
  EXPECT_TRUE(torch::equal(b[0].rows, torch::arange(4, torch::kInt64)));
  EXPECT_EQ(b[2].rows.size(0), 2);
}
