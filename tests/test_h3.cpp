// The h3 architecture plugin, beyond the conformance checks every tiny.toml gets (test_architectures.cpp):
// both SSMs' FFT convolutions against the definition, the convolution forms against the step-by-step
// recurrences, the parameter count of zoology's H3 layer, parameter errors, the token-mixing matrix, CPU vs CUDA.
#include "support.hpp"

using namespace repro;

namespace {
using Values = std::map<std::string, sdk::Value>;

sdk::Params h3_params(const Values& over) {
  Values v;
  for (const auto& p : test::plugins().architecture("h3")->params()) v[p.name] = p.default_value;
  for (const auto& [k, x] : over) v[k] = x;
  return sdk::Params(v);
}

std::shared_ptr<sdk::Model> small_h3(Values over = {}, int64_t len = 64) {
  Values v{{"d_model", int64_t{16}}, {"d_state", int64_t{16}}, {"head_dim", int64_t{2}}};
  for (const auto& [k, x] : over) v[k] = x;
  torch::manual_seed(0);
  return test::plugins().build_model("h3", h3_params(v), {40, len});
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

// Shift SSM on k and diagonal SSM on k⊗v, FFT path (padded to 2L) against the O(L²) definition, with the
// shift filter shorter than the sequence (d_state 16 < L 48: zero-padded kernel) and longer (64 > 48: cut).
TEST(H3Conv, FftEqualsDirectCausalConvolution) {
  for (int64_t N : {16, 64}) {
    auto m = small_h3({{"d_state", N}});
    torch::NoGradGuard ng;
    const int64_t L = 48;
    auto probes = m->internals(torch::randint(0, 40, {2, L}, torch::kInt64));
    ASSERT_EQ(probes.size(), 2u);
    for (auto& p : probes) {
      auto k = p.at("h3.k").transpose(1, 2), shift = p.at("h3.shift_kernel");  // [B, d, L], [d, L]
      ASSERT_EQ(shift.sizes(), (std::vector<int64_t>{16, L}));
      auto want_k = direct_causal_conv(k, shift) + p.at("h3.shift_D").to(torch::kDouble).unsqueeze(1) * k.to(torch::kDouble);
      EXPECT_LT(rel_err(p.at("h3.k_shift").transpose(1, 2), want_k), 1e-5) << "shift SSM, d_state " << N;
      auto kv = p.at("h3.kv"), K = p.at("h3.ssm_kernel");  // [B, i, j, H, L], [H, L]
      ASSERT_EQ(K.sizes(), (std::vector<int64_t>{8, L}));
      auto want = direct_causal_conv(kv, K) + p.at("h3.D").to(torch::kDouble).unsqueeze(1) * kv.to(torch::kDouble);
      EXPECT_LT(rel_err(p.at("h3.ssm_y"), want), 1e-5) << "diagonal SSM, d_state " << N;
      // Long lags matter: the S4D kernel (Δ ≤ 0.1, Re A = −0.5) still carries weight at lag L−1.
      EXPECT_GT(K.select(1, L - 1).abs().max().item<double>(), 1e-3 * K.abs().max().item<double>());
    }
  }
}

// The same weights run as kernels + FFT and as the recurrences s_t = A s_{t−1} + B u_t, y_t = C s_t (shift
// register for the shift SSM, bilinear-discretised complex diagonal for S4D). Same seed, same init: ssm_form
// changes only how the layer computes.
TEST(H3Ssm, ConvolutionFormEqualsRecurrence) {
  for (int64_t N : {8, 64}) {
    auto conv = small_h3({{"d_state", N}}), rec = small_h3({{"d_state", N}, {"ssm_form", std::string("recurrent")}});
    torch::NoGradGuard ng;
    auto x = torch::randint(0, 40, {2, 40}, torch::kInt64);
    auto a = conv->internals(x), b = rec->internals(x);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_LT(rel_err(b[i].at("h3.k_shift"), a[i].at("h3.k_shift")), 1e-5) << "shift SSM, layer " << i;
      EXPECT_LT(rel_err(b[i].at("h3.ssm_y"), a[i].at("h3.ssm_y")), 1e-5) << "diagonal SSM, layer " << i;
    }
    EXPECT_LT(rel_err(rec->forward(x), conv->forward(x)), 1e-5);
  }
}

// zoology's H3 module tree (h3.py, ss_kernel*.py), counted by hand for a Figure 11 configuration (d_model 64,
// 2 layers, d_state = L = 64, head_dim 2, Identity state mixer, no positions, vocab 8192, tied):
// q/k/v/output_linear 4(d²+d); shift SSM B, C (d×N each) + D_k (d); S4D over H = d/head_dim: log_dt (H),
// B and C (H×N/2 complex = H×N reals each), Re/Im A (H×N/2 each), D (H); two LayerNorms (4d).
TEST(H3Params, ParameterCountMatchesZoologyLayer) {
  const int64_t d = 64, N = 64, H = 32, V = 8192;
  torch::manual_seed(0);
  auto m = test::plugins().build_model("h3", h3_params({{"d_model", d}, {"d_state", N}, {"head_dim", int64_t{2}},
                                                        {"mlp_hidden_mult", int64_t{0}}}),
                                       {V, 64});
  int64_t n = 0;
  for (const auto& t : m->parameters()) n += t.numel();
  const int64_t layer = 4 * (d * d + d) + 2 * d * N + d + H + 2 * H * N + H * N + H + 4 * d;
  EXPECT_EQ(n, V * d + 2 * layer + 2 * d);
}

TEST(H3Params, BadParamsNameTheParameter) {
  auto arch = test::plugins().architecture("h3");
  auto expect_error = [&](const Values& v, const std::string& param) {
    try {
      test::plugins().build_model("h3", h3_params(v), {40, 32});
      ADD_FAILURE() << param << ": accepted";
    } catch (const sdk::ParamError& e) {
      EXPECT_EQ(e.param, param) << e.what();
    }
  };
  expect_error({{"d_model", int64_t{30}}, {"head_dim", int64_t{4}}}, "head_dim");
  expect_error({{"d_state", int64_t{15}}}, "d_state");
  expect_error({{"dt_min", 0.5}, {"dt_max", 0.1}}, "dt_min");
  EXPECT_NO_THROW(arch->check(h3_params({{"d_model", int64_t{30}}, {"head_dim", int64_t{3}}})));
}

// mixing_matrices against M[b,t,s] = mean_h Σ_i q[b,t,h·hd+i] (K_h[t−s] + D_h·[t=s]) k̃[b,s,h·hd+i].
TEST(H3Mixing, MatricesMatchTheirDefinitionAndAreCausal) {
  auto m = small_h3({{"mlp_hidden_mult", int64_t{0}}});
  torch::NoGradGuard ng;
  const int64_t L = 20, H = 8, hd = 2;
  auto x = torch::randint(0, 40, {2, L}, torch::kInt64);
  auto mix = m->mixing_matrices(x);
  auto probes = m->internals(x);
  ASSERT_EQ(mix.size(), probes.size());
  auto lag = torch::arange(L).unsqueeze(1) - torch::arange(L).unsqueeze(0);
  for (size_t i = 0; i < mix.size(); ++i) {
    auto& p = probes[i];
    auto K = p.at("h3.ssm_kernel").to(torch::kDouble), D = p.at("h3.D").to(torch::kDouble);
    auto T = K.index_select(1, lag.clamp_min(0).flatten()).view({H, L, L}) * lag.ge(0) +
             D.view({H, 1, 1}) * torch::eye(L, torch::kDouble);
    auto q = p.at("h3.q").to(torch::kDouble).view({2, L, H, hd}), k = p.at("h3.k_shift").to(torch::kDouble).view({2, L, H, hd});
    auto want = torch::einsum("bthi,hts,bshi->bts", {q, T, k}) / H;
    ASSERT_EQ(mix[i].sizes(), (std::vector<int64_t>{2, L, L}));
    EXPECT_LT(rel_err(mix[i], want), 1e-5);
    EXPECT_EQ(mix[i].triu(1).abs().max().item<float>(), 0.0f);
  }
}

TEST(H3Cuda, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto m = small_h3({{"d_state", int64_t{256}}}, 256);
  m->eval();
  torch::NoGradGuard ng;
  auto x = torch::randint(0, 40, {2, 256}, torch::kInt64);
  auto cpu = m->forward(x);
  m->to(torch::kCUDA);
  auto gpu = m->forward(x.cuda()).cpu();
  EXPECT_LT((gpu - cpu).norm().item<double>() / cpu.norm().item<double>(), 1e-4);
}
