#include "stages/metrics.hpp"
#include "support.hpp"

using namespace repro;

TEST(Metrics, TokenQueryExampleDefinitions) {
  // 2 examples; example 0 has queries {0: tokens at 1,2} {1: token at 4}; example 1 has query {0: token at 0}.
  sdk::Dataset d;
  d.inputs = torch::zeros({2, 6}, torch::kInt64);
  d.targets = torch::tensor({{-100, 5, 6, -100, 7, -100}, {8, -100, -100, -100, -100, -100}}, torch::kInt64);
  d.answer_group = torch::tensor({{-1, 0, 0, -1, 1, -1}, {0, -1, -1, -1, -1, -1}}, torch::kInt64);
  d.loss_mask = d.answer_group >= 0;
  d.subset = torch::tensor({0, 1}, torch::kInt64);
  d.subset_names = {"a", "b"};
  auto preds = torch::tensor({{0, 5, 9, 0, 7, 0}, {8, 0, 0, 0, 0, 0}}, torch::kInt64);  // one token wrong
  auto a = score(d, preds);
  EXPECT_DOUBLE_EQ(a.token, 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(a.example, 1.0 / 2.0);
  // subset a: 1 of 2 queries right; subset b: 1 of 1 -> unweighted mean 0.75
  EXPECT_DOUBLE_EQ(a.query, 0.75);
  EXPECT_EQ(a.queries, 3);
  EXPECT_DOUBLE_EQ(a.subsets["a"]["query_accuracy"].get<double>(), 0.5);
}

TEST(Metrics, AcceptedAlternativesCountAsRightAndAreTallied) {
  // K1V1*-style: one scored token per example, target 5, alternatives {5, 6, 7}.
  sdk::Dataset d;
  d.inputs = torch::zeros({4, 3}, torch::kInt64);
  d.targets = torch::full({4, 3}, -100, torch::kInt64);
  d.targets.select(1, 1).fill_(5);
  d.answer_group = torch::full({4, 3}, -1, torch::kInt64);
  d.answer_group.select(1, 1).fill_(0);
  d.loss_mask = d.answer_group >= 0;
  d.subset = torch::zeros({4}, torch::kInt64);
  d.subset_names = {"s"};
  auto accept = torch::full({4, 3, 3}, -1, torch::kInt64);
  accept.select(1, 1).copy_(torch::tensor({5, 6, 7}, torch::kInt64).expand({4, 3}));
  d.meta["accept"] = accept;
  auto preds = torch::tensor({{0, 5, 0}, {0, 6, 0}, {0, 7, 0}, {0, 9, 0}}, torch::kInt64);
  auto a = score(d, preds);
  EXPECT_DOUBLE_EQ(a.token, 3.0 / 4.0);  // 6 and 7 are right too; 9 is not
  ASSERT_EQ(a.alternatives.size(), 3u);
  EXPECT_DOUBLE_EQ(a.alternatives[0], 0.25);
  EXPECT_DOUBLE_EQ(a.alternatives[1], 0.25);
  EXPECT_DOUBLE_EQ(a.alternatives[2], 0.25);
  EXPECT_EQ(a.to_json()["alternatives"].size(), 3u);
}
