// The hyena architecture plugin, beyond the conformance checks every tiny.toml gets (test_architectures.cpp):
// its FFT long convolution against the definition, the paper configuration's size, parameter errors, the
// token-mixing matrix, CPU vs CUDA.
#include "support.hpp"

using namespace repro;

namespace {
using Values = std::map<std::string, sdk::Value>;

sdk::Params hyena_params(const Values& over) {
  Values v;
  for (const auto& p : test::plugins().architecture("hyena")->params()) v[p.name] = p.default_value;
  for (const auto& [k, x] : over) v[k] = x;
  return sdk::Params(v);
}

std::shared_ptr<sdk::Model> small_hyena(Values over = {}, int64_t len = 64) {
  Values v{{"d_model", int64_t{32}}, {"filter_order", int64_t{16}}, {"emb_dim", int64_t{5}}};
  for (const auto& [k, x] : over) v[k] = x;
  torch::manual_seed(0);
  return test::plugins().build_model("hyena", hyena_params(v), {40, len});
}

// The definition: y[..., c, t] = Σ_{s≤t} k[c, t−s] u[..., c, s], in double precision.
torch::Tensor direct_causal_conv(const torch::Tensor& u, const torch::Tensor& k) {
  auto ud = u.to(torch::kDouble), kd = k.to(torch::kDouble);
  std::vector<torch::Tensor> ys;
  for (int64_t t = 0; t < u.size(-1); ++t) {
    auto acc = torch::zeros_like(ud.select(-1, 0));
    for (int64_t s = 0; s <= t; ++s) acc += kd.select(1, t - s) * ud.select(-1, s);
    ys.push_back(acc);
  }
  return torch::stack(ys, -1);
}

// max |a − b| / max |b|
double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>() /
         b.to(torch::kDouble).abs().max().item<double>();
}
}  // namespace

// The FFT path (padded to 2L) against the O(L²) definition, on every layer's real inputs and filter, at the
// full l_max and shorter. A circular (unpadded) FFT would wrap the tail onto early positions and fail.
TEST(HyenaLongConv, FftEqualsDirectCausalConvolution) {
  auto m = small_hyena();
  torch::NoGradGuard ng;
  for (int64_t L : {64, 37}) {
    auto probes = m->internals(torch::randint(0, 40, {2, L}, torch::kInt64));
    ASSERT_EQ(probes.size(), 2u);
    for (auto& p : probes) {
      auto v = p.at("hyena.v").transpose(1, 2), h = p.at("hyena.h"), D = p.at("hyena.D");  // v [B, d, L], h [d, L]
      ASSERT_EQ(h.sizes(), (std::vector<int64_t>{32, L}));
      auto want = direct_causal_conv(v, h) + D.to(torch::kDouble).unsqueeze(1) * v.to(torch::kDouble);
      auto got = p.at("hyena.y").transpose(1, 2);
      EXPECT_LT(rel_err(got, want), 1e-5) << "L = " << L;
      // The filter's far taps take part: dropping lags >= L/2 changes the result well beyond the tolerance.
      auto h_short = h.clone();
      h_short.narrow(1, L / 2, L - L / 2).zero_();
      EXPECT_GT(rel_err(direct_causal_conv(v, h_short) + D.to(torch::kDouble).unsqueeze(1) * v.to(torch::kDouble), want),
                1e-3);
    }
  }
}

// Paper Table 3 lists "Hyena 153m". Global_Mamba builds it (utils.py get_model_tokenizer) as zoology's
// LanguageModel: d_model 864, 18 layers, Hyena(l_max 1024) with its Filter defaults emb_dim 33, order 64, w 14,
// MLP hidden_mult 2, learned positions for 1024 tokens (ModelConfig.max_position_embeddings), tied head, vocab =
// the GPT-NeoX tokenizer's vocab_size 50254. Counting that module tree by hand (the filter's positional
// features z are a parameter there; the decay window is a buffer) gives 153,968,256; ours must be that number.
TEST(HyenaParams, PaperConfigHas153MParameters) {
  auto p = hyena_params({{"d_model", int64_t{864}}, {"n_layers", int64_t{18}}, {"l_max", int64_t{1024}}});
  torch::manual_seed(0);
  auto m = test::plugins().build_model("hyena", p, {50254, 1024});
  int64_t n = 0;
  for (const auto& t : m->parameters()) n += t.numel();
  std::printf("[ hyena ] paper config (d 864, 18 layers, vocab 50254, l_max 1024): %lld parameters\n",
              static_cast<long long>(n));
  EXPECT_NEAR(static_cast<double>(n), 153e6, 0.05 * 153e6);
  const int64_t d = 864, e = 33, o = 64, lm = 1024;
  const int64_t layer = 4 * d + (3 * d * d + 3 * d) + (9 * d + 3 * d) + (d * d + d) + d + lm * e + (e * o + o) +
                        2 * (o * o + o) + o * d + o + (2 * d * d + 2 * d) + (2 * d * d + d);
  EXPECT_EQ(n, 50254 * d + lm * d + 18 * layer + 2 * d);
  EXPECT_EQ(n, 153968256);
}

TEST(HyenaParams, BadParamsNameTheParameter) {
  auto arch = test::plugins().architecture("hyena");
  try {
    arch->check(hyena_params({{"emb_dim", int64_t{4}}}));
    ADD_FAILURE() << "an even emb_dim was accepted";
  } catch (const sdk::ParamError& e) {
    EXPECT_EQ(e.param, "emb_dim");
  }
  EXPECT_NO_THROW(arch->check(hyena_params({{"emb_dim", int64_t{3}}})));
  try {
    test::plugins().build_model("hyena", hyena_params({{"l_max", int64_t{32}}, {"d_model", int64_t{8}}}), {40, 64});
    ADD_FAILURE() << "l_max shorter than the sequences was accepted";
  } catch (const sdk::ParamError& e) {
    EXPECT_EQ(e.param, "l_max");
  }
}

// mixing_matrices against its definition M[b,t,s] = mean_c x2[b,t,c] (h[c,t−s] + D_c·[t=s]) x1[b,s,c],
// built here as a dense Toeplitz product.
TEST(HyenaMixing, MatricesMatchTheirDefinitionAndAreCausal) {
  auto m = small_hyena({{"mlp_hidden_mult", int64_t{0}}, {"position_embeddings", false}});
  torch::NoGradGuard ng;
  const int64_t L = 20;
  auto x = torch::randint(0, 40, {2, L}, torch::kInt64);
  auto mix = m->mixing_matrices(x);
  auto probes = m->internals(x);
  ASSERT_EQ(mix.size(), probes.size());
  auto lag = torch::arange(L).unsqueeze(1) - torch::arange(L).unsqueeze(0);
  for (size_t i = 0; i < mix.size(); ++i) {
    auto& p = probes[i];
    auto h = p.at("hyena.h").to(torch::kDouble), D = p.at("hyena.D").to(torch::kDouble);
    auto T = h.index_select(1, lag.clamp_min(0).flatten()).view({-1, L, L}) * lag.ge(0) +
             D.view({-1, 1, 1}) * torch::eye(L, torch::kDouble);
    auto want = torch::einsum("btc,cts,bsc->bts", {p.at("hyena.x2").to(torch::kDouble), T,
                                                   p.at("hyena.x1").to(torch::kDouble)}) / h.size(0);
    ASSERT_EQ(mix[i].sizes(), (std::vector<int64_t>{2, L, L}));
    EXPECT_LT(rel_err(mix[i], want), 1e-5);
    EXPECT_EQ(mix[i].triu(1).abs().max().item<float>(), 0.0f);
  }
}

TEST(HyenaCuda, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto m = small_hyena({}, 256);
  m->eval();
  torch::NoGradGuard ng;
  auto x = torch::randint(0, 40, {2, 256}, torch::kInt64);
  auto cpu = m->forward(x);
  m->to(torch::kCUDA);
  auto gpu = m->forward(x.cuda()).cpu();
  EXPECT_LT((gpu - cpu).norm().item<double>() / cpu.norm().item<double>(), 1e-4);
}
