// Architecture plugin "h3": a zoology-style language model with the H3 layer of Fu et al. 2023
// ("Hungry Hungry Hippos"), the H3 baseline of the Local-Pattern-Shortcuts paper's Figure 11.
//
//   embedding (+ optional learned positions) → n_layers × [x += H3(LN₁(x)); x += MLP(LN₂(x))] → LN → head
//   H3(u): q, k, v = projections of u;  k̃ = ShiftSSM(k) + D_k ⊙ k   (per channel)
//          per head h (head_dim channels each): kv[i, j] = k̃_i v_j;  o = DiagSSM_h(kv) + D_h ⊙ kv
//          y_j = Σ_i q_i o[i, j];  output_linear(y)
// With head_dim 1 this is Q ⊙ SSM_diag(SSM_shift(K) ⊙ V) of the paper; with head_dim > 1 every head keeps a
// head_dim × head_dim outer-product state per SSM mode, as linear attention does (zoology's H3).
#include <repro/sdk.hpp>

#include <cmath>

#include "ssm.hpp"

namespace {
using namespace repro::sdk;

struct Config {
  int64_t d, layers, d_state, head_dim, mlp_mult;
  double dt_min, dt_max, eps, std;
  bool positions, tied, recurrent;

  explicit Config(const Params& p)
      : d(p.i("d_model")), layers(p.i("n_layers")), d_state(p.i("d_state")), head_dim(p.i("head_dim")),
        mlp_mult(p.i("mlp_hidden_mult")), dt_min(p.f("dt_min")), dt_max(p.f("dt_max")), eps(p.f("layer_norm_eps")),
        std(p.f("init_std")), positions(p.b("position_embeddings")), tied(p.b("tie_embeddings")),
        recurrent(p.s("ssm_form") == "recurrent") {}
};

class H3LayerImpl : public torch::nn::Module {
 public:
  explicit H3LayerImpl(const Config& c)
      : hd_(c.head_dim), recurrent_(c.recurrent),
        q_(register_module("q_proj", torch::nn::Linear(c.d, c.d))),
        k_(register_module("k_proj", torch::nn::Linear(c.d, c.d))),
        v_(register_module("v_proj", torch::nn::Linear(c.d, c.d))),
        shift_(register_module("shift_ssm", h3::ShiftSSM(c.d, c.d_state))),
        diag_(register_module("diag_ssm", h3::DiagSSM(c.d / c.head_dim, c.d_state, c.dt_min, c.dt_max))),
        out_(register_module("output_linear", torch::nn::Linear(c.d, c.d))) {
    shift_D = register_parameter("shift_D", torch::randn({c.d}));   // zoology: ssm_k_D ~ N(0, 1)
    D = register_parameter("D", torch::randn({c.d / c.head_dim}));  // zoology: D ~ N(0, 1)
  }

  // u [B, L, d] → [B, L, d]. `probe` receives the SSMs' inputs, kernels and outputs; `mix` the head-averaged
  // token-mixing matrix M[b, t, s] = mean_h Σ_i q_t,i (K_h[t−s] + D_h·[t = s]) k̃_s,i (y_t = Σ_s M_h[t, s] v_s).
  torch::Tensor forward(const torch::Tensor& u, std::map<std::string, torch::Tensor>* probe = nullptr,
                        torch::Tensor* mix = nullptr) {
    const int64_t Bn = u.size(0), L = u.size(1), d = u.size(2), H = d / hd_;
    auto q = q_->forward(u), k = k_->forward(u), v = v_->forward(u);
    torch::Tensor y;
    {
      c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
      auto f = [](const torch::Tensor& x) { return x.to(torch::kFloat).transpose(1, 2); };  // [B, d, L]
      auto kf = f(k);
      auto shift_k = shift_->kernel(L);
      auto ks = (recurrent_ ? shift_->recurrent(kf) : h3::fft_causal_conv(kf, shift_k)) + shift_D.unsqueeze(1) * kf;
      // Channel c = h·head_dim + i. kv [B, i, j, H, L], so the SSM (over H, L) broadcasts over i, j.
      auto heads = [&](const torch::Tensor& x) { return x.reshape({Bn, H, hd_, L}).transpose(1, 2); };  // [B, i, H, L]
      auto kh = heads(ks), vh = heads(f(v)), qh = heads(f(q));
      auto kv = kh.unsqueeze(2) * vh.unsqueeze(1);
      auto ssm_k = diag_->kernel(L);
      auto o = (recurrent_ ? diag_->recurrent(kv) : h3::fft_causal_conv(kv, ssm_k)) + D.unsqueeze(1) * kv;
      y = (qh.unsqueeze(2) * o).sum(1);                  // [B, j, H, L]
      y = y.permute({0, 3, 2, 1}).reshape({Bn, L, d});  // channel h·head_dim + j
      if (probe)
        *probe = {{"h3.q", q.to(torch::kFloat)}, {"h3.k", kf.transpose(1, 2)}, {"h3.shift_kernel", shift_k},
                  {"h3.shift_D", shift_D}, {"h3.k_shift", ks.transpose(1, 2)}, {"h3.kv", kv}, {"h3.ssm_kernel", ssm_k},
                  {"h3.D", D}, {"h3.ssm_y", o}, {"h3.y", y}};
      if (mix) *mix = mixing(qh, kh, ssm_k);
    }
    return out_->forward(y);
  }

  torch::Tensor shift_D, D;

 private:
  // One diagonal (lag) at a time: memory O(B·L²) rather than O(B·d·L²).
  torch::Tensor mixing(const torch::Tensor& qh, const torch::Tensor& kh, const torch::Tensor& K) const {
    const int64_t B = qh.size(0), L = qh.size(3);
    auto M = torch::zeros({B, L, L}, qh.options());
    for (int64_t j = 0; j < L; ++j) {
      auto w = K.select(1, j) + (j == 0 ? D : torch::zeros_like(D));                      // [H]
      auto qk = (qh.narrow(3, j, L - j) * kh.narrow(3, 0, L - j)).sum(1);                // [B, H, L−j]
      torch::diagonal(M, -j, 1, 2).copy_((qk * w.view({1, -1, 1})).mean(1));
    }
    return M;
  }

  int64_t hd_;
  bool recurrent_;
  torch::nn::Linear q_, k_, v_;
  h3::ShiftSSM shift_;
  h3::DiagSSM diag_;
  torch::nn::Linear out_;
};
TORCH_MODULE(H3Layer);

class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const Config& c)
      : ln1_(register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d}).eps(c.eps)))),
        ln2_(register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d}).eps(c.eps)))),
        mixer_(register_module("h3", H3Layer(c))) {
    if (c.mlp_mult > 0) {
      fc1_ = register_module("fc1", torch::nn::Linear(c.d, c.mlp_mult * c.d));
      fc2_ = register_module("fc2", torch::nn::Linear(c.mlp_mult * c.d, c.d));
    }
  }

  torch::Tensor forward(torch::Tensor x, std::map<std::string, torch::Tensor>* probe, torch::Tensor* mix) {
    x = x + mixer_->forward(ln1_->forward(x), probe, mix);
    // Without an MLP, zoology's residual bookkeeping around its Identity state mixer adds LN₂(x) itself.
    auto h = ln2_->forward(x);
    return x + (fc1_ ? fc2_->forward(torch::gelu(fc1_->forward(h))) : h);
  }

  torch::nn::Linear& fc2() { return fc2_; }

 private:
  torch::nn::LayerNorm ln1_, ln2_;
  H3Layer mixer_;
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(Block);

class H3Model final : public Model {
 public:
  H3Model(const Config& c, const ModelShape& s) : tied_(c.tied) {
    embed_ = register_module("embed", torch::nn::Embedding(s.vocab_size, c.d));
    if (c.positions) pos_ = register_module("pos", torch::nn::Embedding(s.max_seq_len, c.d));
    for (int64_t i = 0; i < c.layers; ++i) blocks_.push_back(register_module("block" + std::to_string(i), Block(c)));
    ln_f_ = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d}).eps(c.eps)));
    if (!tied_) head_ = register_module("head", torch::nn::Linear(torch::nn::LinearOptions(c.d, s.vocab_size).bias(false)));
    // zoology's _init_weights: Linear and embedding weights N(0, std), biases 0, fc2 N(0, std/√(2·layers)).
    // zoology rescales parameters named "out_proj.weight" / "fc2.weight"; H3's output projection is called
    // output_linear there, so it keeps N(0, std), and so does ours. SSM parameters keep their own init.
    torch::NoGradGuard ng;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* l = m->as<torch::nn::Linear>()) {
        l->weight.normal_(0, c.std);
        if (l->bias.defined()) l->bias.zero_();
      } else if (auto* e = m->as<torch::nn::Embedding>()) {
        e->weight.normal_(0, c.std);
      }
    }
    for (auto& b : blocks_)
      if (b->fc2()) b->fc2()->weight.normal_(0, c.std / std::sqrt(2.0 * c.layers));
  }

  torch::Tensor forward(const torch::Tensor& tokens) override { return run(tokens, nullptr, nullptr); }

  std::vector<torch::Tensor> mixing_matrices(const torch::Tensor& tokens) override {
    torch::NoGradGuard ng;
    std::vector<torch::Tensor> out;
    run(tokens, nullptr, &out);
    return out;
  }

  std::vector<std::map<std::string, torch::Tensor>> internals(const torch::Tensor& tokens) override {
    std::vector<std::map<std::string, torch::Tensor>> out;
    run(tokens, &out, nullptr);
    return out;
  }

 private:
  torch::Tensor run(const torch::Tensor& tokens, std::vector<std::map<std::string, torch::Tensor>>* probes,
                    std::vector<torch::Tensor>* mixes) {
    auto x = embed_->forward(tokens);
    if (pos_) x = x + pos_->forward(torch::arange(tokens.size(1), tokens.options().dtype(torch::kLong)));
    for (auto& b : blocks_) {
      std::map<std::string, torch::Tensor> probe;
      torch::Tensor mix;
      x = b->forward(x, probes ? &probe : nullptr, mixes ? &mix : nullptr);
      if (probes) probes->push_back(std::move(probe));
      if (mixes) mixes->push_back(mix);
    }
    x = ln_f_->forward(x);
    return tied_ ? torch::matmul(x, embed_->weight.t()) : head_->forward(x);
  }

  bool tied_;
  torch::nn::Embedding embed_{nullptr}, pos_{nullptr};
  std::vector<Block> blocks_;
  torch::nn::LayerNorm ln_f_{nullptr};
  torch::nn::Linear head_{nullptr};
};

class H3 final : public Architecture {
 public:
  std::string name() const override { return "h3"; }
  std::string version() const override { return "1"; }
  std::string description() const override {
    return "zoology-style LM with H3 layers: shift SSM on k, diagonal (S4D) SSM on k*v by FFT, q gating";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"d_model", ParamType::Int, int64_t{128}, "hidden size", 1, 1 << 16},
        {"n_layers", ParamType::Int, int64_t{2}, "number of blocks (zoology's MQAR sweeps: 2)", 1, 1024},
        {"d_state", ParamType::Int, int64_t{64},
         "state size N of both SSMs: shift-filter length, and N/2 complex diagonal modes; even "
         "(zoology's default 64; its MQAR sweep behind Figure 11: the sequence length)",
         2, 1 << 16},
        {"head_dim", ParamType::Int, int64_t{1}, "channels per head; must divide d_model (Figure 11 sweep: 2)", 1, 1 << 16},
        {"dt_min", ParamType::Float, 1e-3, "smallest initial step size Δ of the diagonal SSM", 1e-9, 1e3},
        {"dt_max", ParamType::Float, 0.1, "largest initial step size Δ", 1e-9, 1e3},
        {"mlp_hidden_mult", ParamType::Int, int64_t{2},
         "GELU MLP hidden = mult × d_model after each H3 layer; 0 = none (zoology's MQAR sweeps)", 0, 64},
        {"position_embeddings", ParamType::Bool, false, "learned absolute position embedding (zoology: none for H3)"},
        {"tie_embeddings", ParamType::Bool, true, "share input embedding and LM head (zoology: true)"},
        {"layer_norm_eps", ParamType::Float, 1e-5, "LayerNorm epsilon", 0, 1},
        {"init_std", ParamType::Float, 0.02, "std of the normal initialisation (zoology: 0.02)", 0, 10},
        {"ssm_form", ParamType::String, std::string("fft"),
         "how both SSMs run: \"fft\" (kernel + FFT convolution, for training) or \"recurrent\" (step by step, "
         "the reference; slow)",
         std::nullopt, std::nullopt, {"fft", "recurrent"}},
    };
  }
  void check(const Params& p) const override {
    if (p.i("d_model") % p.i("head_dim"))
      throw ParamError("head_dim", "head_dim = " + std::to_string(p.i("head_dim")) + " does not divide d_model = " +
                                       std::to_string(p.i("d_model")));
    if (p.i("d_state") % 2)
      throw ParamError("d_state", "d_state = " + std::to_string(p.i("d_state")) +
                                      " must be even: the diagonal SSM has d_state/2 complex-conjugate mode pairs");
    if (p.f("dt_min") > p.f("dt_max"))
      throw ParamError("dt_min", "dt_min = " + std::to_string(p.f("dt_min")) + " exceeds dt_max = " +
                                     std::to_string(p.f("dt_max")));
  }
  std::shared_ptr<Model> build(const Params& p, const ModelShape& s) const override {
    check(p);
    return std::make_shared<H3Model>(Config(p), s);
  }
};

}  // namespace

REPRO_REGISTER_ARCHITECTURE(H3)
