// The rwkv architecture: its two WKV forms agree (values and gradients, also where a naive form
// overflows), the paper's configuration has the paper's size, parameters are validated, CUDA = CPU.
// Generic conformance (causality, gradients, save/load, learning) is in test_architectures.cpp.
#include <cmath>
#include <functional>

#include "core/spec.hpp"
#include "support.hpp"

using namespace repro;

namespace {
using Overrides = std::map<std::string, sdk::Value>;

sdk::Params rwkv_params(const Overrides& over) {
  std::map<std::string, sdk::Value> v;
  for (const auto& p : test::plugins().architecture("rwkv")->params()) v[p.name] = p.default_value;
  for (const auto& [k, x] : over) v[k] = x;
  return sdk::Params(v);
}

std::shared_ptr<sdk::Model> rwkv(const Overrides& over, int64_t vocab = 40, int64_t len = 64, uint64_t seed = 0) {
  torch::manual_seed(seed);
  return test::plugins().build_model("rwkv", rwkv_params(over), {vocab, len});
}

double rel(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).norm().item<double>() / std::max(b.norm().item<double>(), 1e-30);
}

// Runs forward + a fixed loss + backward; returns the logits and every parameter's gradient by name.
std::pair<torch::Tensor, std::map<std::string, torch::Tensor>> logits_and_grads(sdk::Model& m, const torch::Tensor& x) {
  m.zero_grad();
  auto logits = m.forward(x);
  torch::manual_seed(7);
  auto probe = torch::randn(logits.sizes()).to(logits.dtype());  // a loss whose gradient reaches every logit
  (logits * probe).sum().backward();
  std::map<std::string, torch::Tensor> g;
  for (const auto& p : m.named_parameters()) g[p.key()] = p.value().grad().clone();
  return {logits.detach(), g};
}

// Same weights in every model. The truth is the recurrent form in fp64; the fp32 recurrent form and the fp32
// parallel form (each chunk size) must match it, logits within `tol_out` and each parameter's gradient within
// `tol_grad` (norm-relative), and the parallel form must match the fp32 recurrent one as closely.
// `prepare` may overwrite parameters (of every model alike).
void expect_forms_agree(const Overrides& cfg, const torch::Tensor& x, double tol_out, double tol_grad,
                        const std::vector<int64_t>& chunks,
                        const std::function<void(sdk::Model&)>& prepare = [](sdk::Model&) {}) {
  auto with = [&](Overrides o, torch::Dtype type) {
    for (const auto& [k, v] : cfg) o.emplace(k, v);
    auto m = rwkv(o, 40, x.size(1));
    prepare(*m);
    m->to(type);
    return m;
  };
  auto truth = with({{"wkv", std::string("recurrent")}}, torch::kDouble);
  auto [true_out, true_grad] = logits_and_grads(*truth, x);
  ASSERT_TRUE(torch::isfinite(true_out).all().item<bool>());
  auto recurrent = with({{"wkv", std::string("recurrent")}}, torch::kFloat);
  auto [rec_out, rec_grad] = logits_and_grads(*recurrent, x);
  auto expect_close = [&](const torch::Tensor& out, const std::map<std::string, torch::Tensor>& grad,
                          const torch::Tensor& ref_out, const std::map<std::string, torch::Tensor>& ref_grad,
                          const std::string& what) {
    ASSERT_TRUE(torch::isfinite(out).all().item<bool>()) << what;
    double worst = 0;
    std::string worst_name;
    for (const auto& [name, g] : ref_grad) {
      ASSERT_TRUE(torch::isfinite(grad.at(name)).all().item<bool>()) << name << ", " << what;
      const double e = rel(grad.at(name).to(torch::kDouble), g.to(torch::kDouble));
      if (e > worst) worst = e, worst_name = name;
    }
    const double e_out = rel(out.to(torch::kDouble), ref_out.to(torch::kDouble));
    std::printf("  %-40s logits %.2e, worst gradient %.2e (%s)\n", what.c_str(), e_out, worst, worst_name.c_str());
    EXPECT_LT(e_out, tol_out) << what;
    EXPECT_LT(worst, tol_grad) << worst_name << ", " << what;
  };
  expect_close(rec_out, rec_grad, true_out, true_grad, "fp32 recurrent vs fp64 recurrent");
  for (int64_t chunk : chunks) {
    auto par = with({{"wkv", std::string("parallel")}, {"wkv_chunk", chunk}}, torch::kFloat);
    auto [out, grad] = logits_and_grads(*par, x);
    const std::string name = "fp32 parallel (chunk " + std::to_string(chunk) + ")";
    expect_close(out, grad, true_out, true_grad, name + " vs fp64 recurrent");
    expect_close(out, grad, rec_out, rec_grad, name + " vs fp32 recurrent");
  }
}
}  // namespace

// Default initialisation, both feed-forward kinds, chunk sizes that do and do not divide L (1 = one
// position per chunk, 64 >= L = the fully materialised [L, L] form). Tolerance 1e-5 (norm-relative) on
// logits and gradients; measured ~1e-7 and <1e-6.
TEST(RwkvWkv, ParallelMatchesRecurrentLogitsAndGradients) {
  auto x = torch::randint(0, 40, {3, 50}, torch::kInt64);
  for (std::string ffn : {"mlp", "channelmix"})
    expect_forms_agree({{"d_model", int64_t{24}}, {"n_layers", int64_t{2}}, {"ffn", ffn}}, x, 1e-5, 1e-5,
                       {1, 5, 16, 64});
}

// Decays up to e^6 = 403 per step, bonuses up to +-30 and keys of magnitude ~100 over 600 positions:
// exp of any single logit (k_i, u + k_t) or of the factorised decay e^{-i w} (i |w| up to 2.4e5) overflows
// fp32 (max e^88.7), so only the max-subtracted forms can agree here. Tolerance 1e-5 on logits, 1e-3 on
// gradients: keys this large make fp32 itself inexact (|k| eps ~ 1e-5 per logit); measured, the fp32
// recurrent form is 2.2e-4 from the fp64 truth on the key weights' gradient, the parallel form 1.6e-5.
TEST(RwkvWkv, FormsAgreeWithLargeDecaysKeysAndLongSequences) {
  const int64_t L = 600, d = 16;
  auto x = torch::randint(0, 40, {2, L}, torch::kInt64);
  auto extreme = [&](sdk::Model& m) {
    torch::NoGradGuard ng;
    auto p = m.named_parameters();
    p["block0.time_mix.time_decay"].copy_(torch::linspace(-8.0, 6.0, d));
    p["block0.time_mix.time_first"].copy_(torch::linspace(-30.0, 30.0, d));
    torch::manual_seed(3);
    p["block0.time_mix.key.weight"].normal_(0, 25.0);  // LayerNorm'd inputs: |k| ~ 25 sqrt(16) = 100
  };
  {  // the premise: these values overflow a naive exponential in fp32
    auto m = rwkv({{"d_model", d}, {"n_layers", int64_t{1}}, {"ffn", std::string("none")}}, 40, L);
    extreme(*m);
    torch::NoGradGuard ng;
    auto p = m->named_parameters();
    auto decay = torch::exp(p["block0.time_mix.time_decay"]).max().item<float>();
    EXPECT_TRUE(std::isinf(std::exp(static_cast<float>(L - 1) * decay)));
    // the keys the layer computes: LayerNorm'd embedding, token-shift mixed, projected
    auto h = torch::layer_norm(p["embed.weight"].index_select(0, x.flatten()).view({2, L, d}), {d});
    auto prev = torch::constant_pad_nd(h, {0, 0, 1, -1});
    auto k = torch::matmul(prev + (h - prev) * p["block0.time_mix.mix_k"], p["block0.time_mix.key.weight"].t());
    EXPECT_TRUE(std::isinf(torch::exp(k).max().item<float>())) << "max key " << k.max().item<float>();
  }
  expect_forms_agree({{"d_model", d}, {"n_layers", int64_t{1}}, {"ffn", std::string("none")}}, x, 1e-5, 1e-3,
                     {7, 16, 600}, extreme);
}

// Paper's RWKV-153M (Table 3 "153m"; spec §4a, from Global_Mamba utils.py): zoology LanguageModel with
// d_model 1024, 12 layers, RWKVTimeMixer + MLP(hidden_mult 2), tied embeddings, vocab = the Pythia
// tokenizer's vocab_size 50254. Our count: 50254*1024 embedding + 12 * (4 d^2 time-mix matrices + 5 d time
// parameters + (2 d^2 + 3 d) MLP + 4 d LayerNorms) + 2 d final LayerNorm = 152,272,896.
TEST(RwkvParams, PaperConfigIsWithin5PercentOf153M) {
  const int64_t d = 1024, layers = 12, vocab = 50254;
  auto m = rwkv({{"d_model", d}, {"n_layers", layers}, {"ffn", std::string("mlp")}, {"ffn_mult", int64_t{2}},
                 {"tie_embeddings", true}},
                vocab, 1024);
  int64_t n = 0;
  for (const auto& p : m->parameters()) n += p.numel();
  std::printf("RWKV paper config: %lld parameters\n", static_cast<long long>(n));
  EXPECT_EQ(n, vocab * d + layers * (4 * d * d + 5 * d + 2 * (2 * d * d) + 3 * d + 4 * d) + 2 * d);
  EXPECT_EQ(n, 152272896);
  EXPECT_LT(std::abs(static_cast<double>(n) - 153e6) / 153e6, 0.05);
}

TEST(RwkvParams, BadParametersNameTheParameter) {
  auto arch = test::plugins().architecture("rwkv");
  try {
    arch->check(rwkv_params({{"n_layers", int64_t{4}}, {"ramp_layers", int64_t{3}}}));
    ADD_FAILURE() << "ramp_layers < n_layers accepted";
  } catch (const sdk::ParamError& e) {
    EXPECT_EQ(e.param, "ramp_layers") << e.what();
    EXPECT_NE(std::string(e.what()).find("n_layers = 4"), std::string::npos) << e.what();
  }
  EXPECT_THROW(rwkv({{"n_layers", int64_t{4}}, {"ramp_layers", int64_t{3}}}), sdk::ParamError);  // build checks too
  EXPECT_NO_THROW(arch->check(rwkv_params({{"n_layers", int64_t{4}}, {"ramp_layers", int64_t{4}}})));
  EXPECT_NO_THROW(arch->check(rwkv_params({{"n_layers", int64_t{4}}, {"ramp_layers", int64_t{0}}})));

  // Choices and bounds are declared, so a spec naming a wrong value fails at its key.
  auto spec_error = [](const std::string& config) {
    std::string s = test::tiny_spec();
    auto swap = [&](const std::string& from, const std::string& to) { s.replace(s.find(from), from.size(), to); };
    swap("architecture = \"transformer\"", "architecture = \"rwkv\"");
    swap("config = { d_model = 32, n_layers = 1, n_heads = 2 }", "config = { " + config + " }");
    test::TempDir dir;
    try {
      load_spec(dir.write("s.toml", s).string(), test::plugins());
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("loaded");
  };
  EXPECT_NE(spec_error("wkv = \"fast\"").find("models.tf.config.wkv: expected one of"), std::string::npos)
      << spec_error("wkv = \"fast\"");
  EXPECT_NE(spec_error("ffn = \"glu\"").find("models.tf.config.ffn"), std::string::npos) << spec_error("ffn = \"glu\"");
  EXPECT_NE(spec_error("wkv_chunk = 0").find("models.tf.config.wkv_chunk"), std::string::npos)
      << spec_error("wkv_chunk = 0");
  EXPECT_NE(spec_error("n_layers = 2, ramp_layers = 1").find("models.tf.config.ramp_layers"), std::string::npos)
      << spec_error("n_layers = 2, ramp_layers = 1");
  EXPECT_EQ(spec_error("d_model = 16, wkv = \"recurrent\""), "loaded");
}

// The probe hook: per layer a causal, row-stochastic [B, L, L] matrix (the channel-averaged WKV weights).
TEST(RwkvWkv, MixingMatricesAreCausalRowStochastic) {
  auto m = rwkv({{"d_model", int64_t{16}}, {"n_layers", int64_t{2}}});
  m->eval();
  torch::NoGradGuard ng;
  auto x = torch::randint(0, 40, {2, 20}, torch::kInt64);
  auto w = m->mixing_matrices(x);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[1].sizes(), (std::vector<int64_t>{2, 20, 20}));
  EXPECT_LT((w[1].sum(-1) - 1).abs().max().item<double>(), 1e-5);
  EXPECT_EQ(w[1].triu(1).abs().max().item<float>(), 0.0f);
  EXPECT_GT(w[1].tril(-1).abs().max().item<float>(), 0.0f);
}

TEST(RwkvCuda, CudaMatchesCpuForBothForms) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto x = torch::randint(0, 40, {2, 100}, torch::kInt64);
  for (std::string form : {"parallel", "recurrent"}) {
    auto m = rwkv({{"d_model", int64_t{32}}, {"n_layers", int64_t{2}}, {"ffn", std::string("channelmix")},
                   {"wkv", form}, {"wkv_chunk", int64_t{16}}},
                  40, 100);
    m->eval();
    torch::NoGradGuard ng;
    auto cpu = m->forward(x);
    m->to(torch::kCUDA);
    auto gpu = m->forward(x.cuda()).cpu();
    EXPECT_LT(rel(gpu, cpu), 1e-4) << form;
  }
}
