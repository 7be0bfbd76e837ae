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
