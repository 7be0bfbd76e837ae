#include "core/dataset_io.hpp"
#include "core/hash.hpp"
#include "support.hpp"

using namespace repro;

namespace {
sdk::Params mqar_params(int64_t V, int64_t L, std::vector<int64_t> n, const std::string& filler = "random") {
  return sdk::Params({{"vocab_size", V}, {"seq_len", L}, {"num_kv_pairs", n}, {"power_a", 0.01}, {"filler", filler}});
}
std::string bytes_hash(const sdk::Dataset& d) {
  Hasher h;
  for (const auto& t : {d.inputs, d.targets, d.loss_mask.to(torch::kInt64), d.answer_group, d.subset})
    h.add(std::string_view(static_cast<const char*>(t.contiguous().data_ptr()), t.numel() * t.element_size()));
  return h.hex();
}
}  // namespace

TEST(Mqar, DeterministicGoldenHash) {
  auto task = test::plugins().task("mqar");
  auto a = task->generate(mqar_params(64, 32, {2, 4}), sdk::Split::Train, 1234, 50);
  auto b = task->generate(mqar_params(64, 32, {2, 4}), sdk::Split::Train, 1234, 50);
  EXPECT_EQ(bytes_hash(a), bytes_hash(b));
  // Fixed seed -> fixed bytes on every machine. If this changes, bump the task's version().
  EXPECT_EQ(bytes_hash(a), "d43de3f838a4ebbe9997b49b92a7df41d7143b11");
  auto c = task->generate(mqar_params(64, 32, {2, 4}), sdk::Split::Train, 1235, 50);
  EXPECT_NE(bytes_hash(a), bytes_hash(c));
}

TEST(Mqar, Invariants) {
  auto task = test::plugins().task("mqar");
  const int64_t V = 128, L = 64;
  auto d = task->generate(mqar_params(V, L, {1, 4, 16}), sdk::Split::Test, 7, 300);
  check_dataset(d, V, "mqar");
  auto in = d.inputs.accessor<int64_t, 2>();
  auto tg = d.targets.accessor<int64_t, 2>();
  auto kp = d.meta.at("key_pos").accessor<int64_t, 2>();
  auto qp = d.meta.at("query_pos").accessor<int64_t, 2>();
  std::vector<int64_t> counts(3);
  std::vector<int64_t> gap_hist(L);
  for (int64_t e = 0; e < 300; ++e) {
    const int64_t s = d.subset[e].item<int64_t>(), n = std::vector<int64_t>{1, 4, 16}[s];
    counts[s]++;
    EXPECT_EQ(d.loss_mask[e].sum().item<int64_t>(), n);
    std::set<int64_t> keys;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t k = in[e][kp[e][j]], v = in[e][kp[e][j] + 1], q = qp[e][j];
      EXPECT_GE(k, 1);
      EXPECT_LT(k, V / 2);
      EXPECT_GE(v, V / 2);
      EXPECT_LT(v, V);
      keys.insert(k);
      EXPECT_GE(q, 2 * n);  // queries after the KV block
      EXPECT_EQ(q % 2, 0);
      EXPECT_EQ(in[e][q], k);   // the query shows the key
      EXPECT_EQ(tg[e][q], v);   // and the target there is its value
      EXPECT_EQ(d.answer_group[e][q].item<int64_t>(), j);
      gap_hist[(q - 2 * n) / 2]++;
    }
    EXPECT_EQ(static_cast<int64_t>(keys.size()), n) << "keys must be distinct";
  }
  EXPECT_EQ(counts, (std::vector<int64_t>{100, 100, 100}));
  // Power law favours the first slots: slot 0 is used more than slot 10.
  EXPECT_GT(gap_hist[0], gap_hist[10]);
}

TEST(Mqar, ZeroFiller) {
  auto d = test::plugins().task("mqar")->generate(mqar_params(64, 32, {2}, "zero"), sdk::Split::Test, 1, 10);
  EXPECT_EQ((d.inputs != 0).sum(1).eq(6).all().item<bool>(), true);  // 2 keys + 2 values + 2 queries
}

TEST(Mqar, DatasetRoundTripsThroughTheArtifactFile) {
  test::TempDir dir;
  auto d = test::plugins().task("mqar")->generate(mqar_params(64, 32, {2, 4}), sdk::Split::Valid, 3, 20);
  save_dataset(dir.path(), d);
  auto e = load_dataset(dir.path());
  EXPECT_EQ(bytes_hash(d), bytes_hash(e));
  EXPECT_EQ(e.subset_names, d.subset_names);
  EXPECT_TRUE(torch::equal(e.meta.at("query_pos"), d.meta.at("query_pos")));
}
