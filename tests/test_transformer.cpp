#include "support.hpp"

using namespace repro;

namespace {
std::shared_ptr<sdk::Model> small_transformer(int64_t vocab, int64_t layers = 2) {
  std::map<std::string, sdk::Value> v;
  for (const auto& p : test::plugins().architecture("transformer")->params()) v[p.name] = p.default_value;
  v["d_model"] = int64_t{32};
  v["n_layers"] = layers;
  v["n_heads"] = int64_t{4};
  v["rotary_pct"] = 1.0;
  torch::manual_seed(0);
  return test::plugins().build_model("transformer", sdk::Params(v), {vocab, 64});
}
}  // namespace

TEST(Transformer, CausalFutureTokensDoNotChangeEarlierLogits) {
  auto m = small_transformer(50);
  m->eval();
  torch::NoGradGuard ng;
  auto x = torch::randint(0, 50, {3, 24}, torch::kInt64);
  auto y = x.clone();
  y.slice(1, 12) = torch::randint(0, 50, {3, 12}, torch::kInt64);
  auto a = m->forward(x), b = m->forward(y);
  EXPECT_TRUE(torch::allclose(a.slice(1, 0, 12), b.slice(1, 0, 12), 1e-5, 1e-5));
  EXPECT_FALSE(torch::allclose(a.slice(1, 12), b.slice(1, 12), 1e-5, 1e-5));  // and later ones do change
}

TEST(Transformer, MixingMatricesAreCausalRowStochasticAndMatchForward) {
  auto m = small_transformer(50);
  m->eval();
  torch::NoGradGuard ng;
  auto x = torch::randint(0, 50, {2, 16}, torch::kInt64);
  auto w = m->mixing_matrices(x);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].sizes(), (std::vector<int64_t>{2, 16, 16}));
  EXPECT_TRUE(torch::allclose(w[0].sum(-1), torch::ones({2, 16}), 1e-4, 1e-4));
  EXPECT_EQ(w[1].triu(1).abs().max().item<float>(), 0.0f);
}

TEST(Transformer, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto m = small_transformer(50);
  m->eval();
  torch::NoGradGuard ng;
  auto x = torch::randint(0, 50, {2, 32}, torch::kInt64);
  auto cpu = m->forward(x);
  m->to(torch::kCUDA);
  auto gpu = m->forward(x.cuda()).cpu();
  EXPECT_LT((gpu - cpu).norm().item<double>() / cpu.norm().item<double>(), 1e-3);
}
