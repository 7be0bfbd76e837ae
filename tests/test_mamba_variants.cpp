// The "Achilles' Heel of Mamba" variants of the mamba plugin (conv = none | residual | ones, positional_embedding)
// and the initialisation rate gamma on mamba and transformer: each variant changes exactly what it names — the
// parameter set and the SSM input x' of layer 0 — and the defaults stay the paper Mamba.
#include <set>

#include "support.hpp"

using namespace repro;

namespace {
using Over = std::map<std::string, sdk::Value>;
constexpr int64_t kVocab = 40, kLen = 32, kD = 16, kInner = 32, kConv = 4;

std::shared_ptr<sdk::Model> build(const std::string& arch, Over over, int64_t d = kD) {
  over.emplace("d_model", d);
  if (arch == "mamba") over.emplace("d_state", int64_t{4});
  torch::manual_seed(0);  // same seed: shared parameters get the same values
  return test::plugins().build_model(arch, test::with_defaults(test::plugins().architecture(arch)->params(), over),
                                     {kVocab, kLen});
}
std::map<std::string, torch::Tensor> named(sdk::Model& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value();
  return out;
}
std::set<std::string> names(sdk::Model& m) {
  std::set<std::string> s;
  for (const auto& [k, v] : named(m)) s.insert(k);
  return s;
}
torch::Tensor tokens() {
  torch::manual_seed(1);
  return torch::randint(0, kVocab, {2, 12}, torch::kInt64);
}
// Layer 0's SSM input x' and its pre-conv input x = in_proj(RMSNorm(embed(tokens)))[:d_inner] (norm weight 1 at init).
torch::Tensor ssm_input(sdk::Model& m) { return m.internals(tokens())[0].at("ssm.x"); }
torch::Tensor pre_conv(sdk::Model& m) {
  auto p = named(m);
  auto h = torch::embedding(p.at("embeddings.weight"), tokens());
  if (p.count("position_embeddings.weight")) h = h + p.at("position_embeddings.weight").slice(0, 0, 12);
  h = h * torch::rsqrt(h.pow(2).mean(-1, true) + 1e-5);
  return torch::matmul(h, p.at("layers.0.mixer.in_proj.weight").slice(0, 0, kInner).t()).detach();
}
// SiLU(causal depthwise conv of layer 0 over x) at position t.
torch::Tensor conv_at(sdk::Model& m, const torch::Tensor& x, int64_t t) {
  auto p = named(m);
  auto w = p.at("layers.0.mixer.conv1d.weight").squeeze(1), b = p.at("layers.0.mixer.conv1d.bias");  // [C, k]
  return torch::silu(b + (x.slice(1, t + 1 - kConv, t + 1) * w.t().unsqueeze(0)).sum(1)).detach();
}
void expect_close(const torch::Tensor& a, const torch::Tensor& b, const std::string& what) {
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-5) << what;
}
}  // namespace

TEST(MambaVariants, DefaultsAreThePaperMamba) {
  auto base = build("mamba", {});
  auto explicit_ = build("mamba", {{"conv", std::string("standard")}, {"positional_embedding", false}, {"init_rate", 0.0}});
  EXPECT_TRUE(names(*base).count("layers.0.mixer.conv1d.weight"));
  EXPECT_FALSE(names(*base).count("position_embeddings.weight"));
  EXPECT_TRUE(torch::equal(base->forward(tokens()), explicit_->forward(tokens())));
  // x' = SiLU(causal conv(x)): the last position from the last d_conv inputs.
  expect_close(ssm_input(*base).select(1, 11), conv_at(*base, pre_conv(*base), 11), "standard x' at the end");
}

TEST(MambaVariants, NoConvHasNoConvParametersAndFeedsSiluOfX) {
  auto base = build("mamba", {}), none = build("mamba", {{"conv", std::string("none")}});
  std::set<std::string> expected;
  for (const auto& n : names(*base))
    if (n.find(".conv1d.") == std::string::npos) expected.insert(n);
  EXPECT_EQ(names(*none), expected) << "exactly the conv parameters are gone";
  expect_close(ssm_input(*none), torch::silu(pre_conv(*none)), "x' = SiLU(x)");
}

TEST(MambaVariants, ResidualAddsTheConvInputAndNothingElse) {
  auto base = build("mamba", {}), res = build("mamba", {{"conv", std::string("residual")}});
  EXPECT_EQ(names(*res), names(*base));
  for (const auto& [k, v] : named(*base)) EXPECT_TRUE(torch::equal(v, named(*res).at(k))) << k;
  // Same weights: layer 0's SSM input differs from the standard one by exactly x.
  expect_close(ssm_input(*res) - ssm_input(*base), pre_conv(*base), "x'_residual - x'_standard = x");
}

TEST(MambaVariants, AllOnesConvIsFrozenAtOne) {
  auto ones = build("mamba", {{"conv", std::string("ones")}});
  auto p = named(*ones);
  for (const auto* n : {"layers.0.mixer.conv1d.weight", "layers.1.mixer.conv1d.weight"}) {
    EXPECT_TRUE(torch::equal(p.at(n), torch::ones_like(p.at(n))));
    EXPECT_FALSE(p.at(n).requires_grad());
  }
  EXPECT_FALSE(p.at("layers.0.mixer.conv1d.bias").requires_grad());
  auto x = pre_conv(*ones);
  expect_close(ssm_input(*ones).select(1, 11), torch::silu(x.slice(1, 12 - kConv, 12).sum(1)), "x' = SiLU(sum of 4)");
  ones->forward(tokens()).sum().backward();
  EXPECT_FALSE(p.at("layers.0.mixer.conv1d.weight").grad().defined());
  EXPECT_TRUE(p.at("layers.0.mixer.in_proj.weight").grad().defined());
}

TEST(MambaVariants, PositionalEmbeddingIsOneLearnedTable) {
  auto base = build("mamba", {}), pos = build("mamba", {{"positional_embedding", true}});
  auto extra = names(*pos);
  for (const auto& n : names(*base)) extra.erase(n);
  EXPECT_EQ(extra, std::set<std::string>{"position_embeddings.weight"});
  EXPECT_EQ(named(*pos).at("position_embeddings.weight").sizes(), (std::vector<int64_t>{kLen, kD}));
  // The table is added to the token embedding before the first block (pre_conv adds it).
  expect_close(ssm_input(*pos).select(1, 11), conv_at(*pos, pre_conv(*pos), 11), "x' from embed + position");
  EXPECT_FALSE(torch::allclose(ssm_input(*pos), ssm_input(*base)));
}

TEST(MambaVariants, EveryVariantIsCausalAndTrainsEveryTrainableParameter) {
  for (const Over& over : std::vector<Over>{{{"conv", std::string("none")}},
                                            {{"conv", std::string("residual")}, {"positional_embedding", true}},
                                            {{"conv", std::string("ones")}},
                                            {{"init_rate", 1.0}}}) {
    auto m = build("mamba", over);
    SCOPED_TRACE(over.begin()->first);
    auto x = tokens(), y = x.clone();
    y.select(1, 7).add_(1).remainder_(kVocab);
    auto a = m->forward(x), b = m->forward(y);
    EXPECT_TRUE(torch::allclose(a.slice(1, 0, 7), b.slice(1, 0, 7))) << "logits before t = 7 see token 7";
    EXPECT_FALSE(torch::allclose(a.slice(1, 7), b.slice(1, 7))) << "token 7 changes nothing";
    a.pow(2).mean().backward();
    for (const auto& [k, v] : named(*m))
      if (v.requires_grad()) EXPECT_TRUE(v.grad().defined() && v.grad().abs().sum().item<double>() > 0) << k;
  }
}

// gamma = 1 at width 64: std = fan_in^-1 per weight matrix; vectors keep their init.
TEST(InitRate, WeightStdIsFanInToTheMinusGamma) {
  auto expect_std = [](const torch::Tensor& w, double fan_in, double gamma, const std::string& n) {
    EXPECT_NEAR(w.std().item<double>() / std::pow(fan_in, -gamma), 1.0, 0.1) << n;
    EXPECT_NEAR(w.mean().item<double>(), 0.0, 3 * std::pow(fan_in, -gamma) / std::sqrt(w.numel())) << n;
  };
  for (double gamma : {0.5, 1.0}) {
    auto m = named(*build("mamba", {{"init_rate", gamma}, {"expand", int64_t{2}}}, 64));
    expect_std(m.at("embeddings.weight"), 64, gamma, "embedding");
    expect_std(m.at("layers.0.mixer.in_proj.weight"), 64, gamma, "in_proj");
    expect_std(m.at("layers.0.mixer.out_proj.weight"), 128, gamma, "out_proj");
    expect_std(m.at("layers.1.mixer.x_proj.weight"), 128, gamma, "x_proj");
    expect_std(m.at("layers.0.mixer.conv1d.weight"), kConv, gamma, "conv (4 taps per channel)");
    auto base = named(*build("mamba", {{"expand", int64_t{2}}}, 64));
    for (const auto* n : {"layers.0.mixer.A_log", "layers.0.mixer.D", "layers.0.norm.weight"})
      EXPECT_TRUE(torch::equal(m.at(n), base.at(n))) << n << " is not a weight matrix";

    auto t = named(*build("transformer", {{"init_rate", gamma}, {"n_heads", int64_t{1}}}, 64));
    expect_std(t.at("embed.weight"), 64, gamma, "transformer embedding");
    expect_std(t.at("block0.qkv.weight"), 64, gamma, "qkv");
    expect_std(t.at("block1.down.weight"), 256, gamma, "MLP down (no 1/sqrt(2 layers) rescale)");
    expect_std(t.at("head.weight"), 64, gamma, "head");
    EXPECT_TRUE(torch::equal(t.at("block0.ln1.weight"), torch::ones({64})));
  }
  // Different gammas give different models; 0 keeps the default init.
  EXPECT_TRUE(torch::equal(named(*build("transformer", {{"init_rate", 0.0}})).at("block0.qkv.weight"),
                           named(*build("transformer", {})).at("block0.qkv.weight")));
}
