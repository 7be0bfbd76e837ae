#include <set>

#include "support.hpp"

using namespace repro;

namespace {
std::shared_ptr<sdk::Model> small_transformer(int64_t vocab, int64_t layers = 2, int64_t conv_width = 0) {
  std::map<std::string, sdk::Value> v;
  for (const auto& p : test::plugins().architecture("transformer")->params()) v[p.name] = p.default_value;
  v["d_model"] = int64_t{32};
  v["n_layers"] = layers;
  v["n_heads"] = int64_t{4};
  v["rotary_pct"] = 1.0;
  v["conv_width"] = conv_width;
  torch::manual_seed(0);
  return test::plugins().build_model("transformer", sdk::Params(v), {vocab, 64});
}

// Changing tokens from position 12 on leaves the logits before 12 as they were, and changes later ones.
void expect_causal(sdk::Model& m, int64_t vocab) {
  m.eval();
  torch::NoGradGuard ng;
  auto x = torch::randint(0, vocab, {3, 24}, torch::kInt64);
  auto y = x.clone();
  y.slice(1, 12) = torch::randint(0, vocab, {3, 12}, torch::kInt64);
  auto a = m.forward(x), b = m.forward(y);
  EXPECT_TRUE(torch::allclose(a.slice(1, 0, 12), b.slice(1, 0, 12), 1e-5, 1e-5));
  EXPECT_FALSE(torch::allclose(a.slice(1, 12), b.slice(1, 12), 1e-5, 1e-5));
}
}  // namespace

TEST(Transformer, CausalFutureTokensDoNotChangeEarlierLogits) { expect_causal(*small_transformer(50), 50); }

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

// The paper's Pythia (Table 3 "133m"; spec §4a): GPT-NeoX from the pythia-160m config with 8 layers: d 768,
// 12 heads, FFN 3072, rotary_pct 0.25, untied embeddings, vocab 50304. With biases on every projection:
// 8 * 7,087,872 per layer + 2 * 50304 * 768 embeddings + 1,536 final LayerNorm = 133,971,456 (12 layers give
// pythia-160m's 162,322,944). The paper rounds to 133M, the spec to ~134M; both are within 1%.
TEST(Transformer, PaperPythiaConfigHasAbout133MParameters) {
  std::map<std::string, sdk::Value> v;
  for (const auto& p : test::plugins().architecture("transformer")->params()) v[p.name] = p.default_value;
  v["d_model"] = int64_t{768};
  v["n_layers"] = int64_t{8};
  v["n_heads"] = int64_t{12};
  v["mlp_ratio"] = int64_t{4};
  v["rotary_pct"] = 0.25;
  v["tie_embeddings"] = false;
  auto m = test::plugins().build_model("transformer", sdk::Params(v), {50304, 2048});
  int64_t n = 0;
  for (const auto& p : m->parameters()) n += p.numel();
  const int64_t d = 768, layer = (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d) + 4 * d;
  EXPECT_EQ(n, 8 * layer + 2 * 50304 * d + 2 * d);
  EXPECT_LT(std::abs(static_cast<double>(n) - 133e6) / 133e6, 0.05) << n;
}

// Achilles' Heel Fig. 9: conv_width adds exactly one causal depthwise conv (weight + bias) per block before Q, K, V.
TEST(Transformer, ConvBeforeAttentionAddsOneCausalConvPerBlock) {
  auto plain = small_transformer(50), conv = small_transformer(50, 2, 4);
  std::set<std::string> base, extra;
  for (const auto& p : plain->named_parameters()) base.insert(p.key());
  for (const auto& p : conv->named_parameters())
    if (!base.count(p.key())) extra.insert(p.key());
  EXPECT_EQ(extra, (std::set<std::string>{"block0.conv.weight", "block0.conv.bias", "block1.conv.weight", "block1.conv.bias"}));
  expect_causal(*conv, 50);
  // Same seed, same shared parameters: only the conv can make the outputs differ.
  torch::NoGradGuard ng;
  plain->eval();
  auto x = torch::randint(0, 50, {2, 20}, torch::kInt64);
  EXPECT_FALSE(torch::allclose(conv->forward(x), plain->forward(x), 1e-3, 1e-3));
}
