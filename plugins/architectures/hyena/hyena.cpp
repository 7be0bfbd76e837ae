// Architecture plugin "hyena": a zoology-style language model with the order-2 Hyena operator
// (Poli et al. 2023), as the Global_Mamba repo builds its Hyena-153M baseline.
//
//   embedding (+ learned absolute positions) → n_layers × [x += Hyena(LN₁(x)); x += MLP(LN₂(x))] → LN → head
//   Hyena(u): (x1, x2, v) = ShortConv(in_proj(u));  y = x2 ⊙ (h ∗ (x1 ⊙ v) + D ⊙ (x1 ⊙ v));  out_proj(y)
//
// ShortConv is a depthwise causal convolution over the 3·d projections, h the implicit long filter of
// filter.hpp applied by FFT, D a per-channel skip. Initialisation follows zoology's _init_weights.
#include <repro/sdk.hpp>

#include <cmath>

#include "filter.hpp"

namespace {
using namespace repro::sdk;

struct Config {
  int64_t d, layers, l_max, short_order, mlp_mult;
  hyena::FilterOptions filter;
  bool positions, tied;
  double eps, std;

  Config(const Params& p, const ModelShape& s)
      : d(p.i("d_model")), layers(p.i("n_layers")), l_max(p.i("l_max") ? p.i("l_max") : s.max_seq_len),
        short_order(p.i("short_filter_order")), mlp_mult(p.i("mlp_hidden_mult")),
        filter{d, l_max, p.i("emb_dim"), p.i("filter_order"), p.i("filter_inner_layers"), p.f("sin_freq"),
               p.b("modulate"), p.f("fast_decay_pct"), p.f("slow_decay_pct"), p.f("decay_target")},
        positions(p.b("position_embeddings")), tied(p.b("tie_embeddings")), eps(p.f("layer_norm_eps")),
        std(p.f("init_std")) {}
};

class HyenaOperatorImpl : public torch::nn::Module {
 public:
  explicit HyenaOperatorImpl(const Config& c)
      : in_proj_(register_module("in_proj", torch::nn::Linear(c.d, 3 * c.d))),
        short_(register_module("short_filter", torch::nn::Conv1d(torch::nn::Conv1dOptions(3 * c.d, 3 * c.d, c.short_order)
                                                                     .groups(3 * c.d)
                                                                     .padding(c.short_order - 1)))),
        filter_(register_module("filter", hyena::ImplicitFilter(c.filter))),
        out_proj_(register_module("out_proj", torch::nn::Linear(c.d, c.d))) {
    D = register_parameter("D", torch::randn({c.d}));  // zoology: Filter.bias ~ N(0, 1)
  }

  // u [B, L, d] → [B, L, d]. With `probe`: the long convolution's input, filter, skip and output.
  // With `mix`: the channel-averaged token-mixing matrix [B, L, L] (row t: weights of v_s, s ≤ t).
  torch::Tensor forward(const torch::Tensor& u, std::map<std::string, torch::Tensor>* probe = nullptr,
                        torch::Tensor* mix = nullptr) {
    const int64_t L = u.size(1);
    // Padding both sides by order−1 and keeping the first L outputs makes the short conv causal.
    auto uc = short_->forward(in_proj_->forward(u).transpose(1, 2)).narrow(-1, 0, L);  // [B, 3d, L]
    auto parts = uc.chunk(3, 1);
    torch::Tensor y;
    {
      c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
      auto x1 = parts[0].to(torch::kFloat), x2 = parts[1].to(torch::kFloat), v = parts[2].to(torch::kFloat) * x1;
      auto h = filter_->kernel(L);  // [d, L]
      auto conv = hyena::fft_causal_conv(v, h) + D.unsqueeze(1) * v;
      if (probe)
        *probe = {{"hyena.x1", x1.transpose(1, 2)}, {"hyena.x2", x2.transpose(1, 2)}, {"hyena.v", v.transpose(1, 2)},
                  {"hyena.h", h}, {"hyena.D", D}, {"hyena.y", conv.transpose(1, 2)}};
      if (mix) *mix = mixing(x1, x2, h);
      y = (x2 * conv).transpose(1, 2);
    }
    return out_proj_->forward(y);
  }

  torch::nn::Linear& out_proj() { return out_proj_; }
  torch::Tensor D;

 private:
  // M[b, t, s] = mean_c x2[b,c,t] (h[c,t−s] + D_c·[t = s]) x1[b,c,s]: y_c = M_c v_c per channel, averaged.
  // Built one diagonal (lag) at a time so memory stays O(B·L²), not O(B·d·L²).
  torch::Tensor mixing(const torch::Tensor& x1, const torch::Tensor& x2, const torch::Tensor& h) const {
    const int64_t B = x1.size(0), L = x1.size(2);
    auto M = torch::zeros({B, L, L}, x1.options());
    for (int64_t j = 0; j < L; ++j) {
      auto w = h.select(1, j) + (j == 0 ? D : torch::zeros_like(D));
      auto diag = (x2.narrow(2, j, L - j) * x1.narrow(2, 0, L - j) * w.view({1, -1, 1})).mean(1);  // [B, L−j]
      torch::diagonal(M, -j, 1, 2).copy_(diag);
    }
    return M;
  }

  torch::nn::Linear in_proj_;
  torch::nn::Conv1d short_;
  hyena::ImplicitFilter filter_;
  torch::nn::Linear out_proj_;
};
TORCH_MODULE(HyenaOperator);

class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const Config& c)
      : ln1_(register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d}).eps(c.eps)))),
        ln2_(register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d}).eps(c.eps)))),
        mixer_(register_module("hyena", HyenaOperator(c))) {
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

  HyenaOperator& mixer() { return mixer_; }
  torch::nn::Linear& fc2() { return fc2_; }

 private:
  torch::nn::LayerNorm ln1_, ln2_;
  HyenaOperator mixer_;
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(Block);

class HyenaModel final : public Model {
 public:
  HyenaModel(const Config& c, const ModelShape& s) : l_max_(c.l_max), tied_(c.tied) {
    embed_ = register_module("embed", torch::nn::Embedding(s.vocab_size, c.d));
    if (c.positions) pos_ = register_module("pos", torch::nn::Embedding(s.max_seq_len, c.d));
    for (int64_t i = 0; i < c.layers; ++i) blocks_.push_back(register_module("block" + std::to_string(i), Block(c)));
    ln_f_ = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d}).eps(c.eps)));
    if (!tied_) head_ = register_module("head", torch::nn::Linear(torch::nn::LinearOptions(c.d, s.vocab_size).bias(false)));
    // zoology's _init_weights: every Linear (the filter FFN's too) and embedding N(0, std), biases 0, the
    // residual-branch outputs (out_proj, fc2) N(0, std/√(2·layers)); the short conv keeps PyTorch's
    // default init, D ~ N(0, 1), the sine frequencies their constant.
    torch::NoGradGuard ng;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* l = m->as<torch::nn::Linear>()) {
        l->weight.normal_(0, c.std);
        if (l->bias.defined()) l->bias.zero_();
      } else if (auto* e = m->as<torch::nn::Embedding>()) {
        e->weight.normal_(0, c.std);
      }
    }
    for (auto& b : blocks_) {
      b->mixer()->out_proj()->weight.normal_(0, c.std / std::sqrt(2.0 * c.layers));
      if (b->fc2()) b->fc2()->weight.normal_(0, c.std / std::sqrt(2.0 * c.layers));
    }
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
    const int64_t L = tokens.size(1);
    TORCH_CHECK(L <= l_max_, "hyena: sequence length ", L, " exceeds l_max = ", l_max_);
    auto x = embed_->forward(tokens);
    if (pos_) x = x + pos_->forward(torch::arange(L, tokens.options().dtype(torch::kLong)));
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

  int64_t l_max_;
  bool tied_;
  torch::nn::Embedding embed_{nullptr}, pos_{nullptr};
  std::vector<Block> blocks_;
  torch::nn::LayerNorm ln_f_{nullptr};
  torch::nn::Linear head_{nullptr};
};

class Hyena final : public Architecture {
 public:
  std::string name() const override { return "hyena"; }
  std::string version() const override { return "1"; }
  std::string description() const override {
    return "zoology-style LM with the order-2 Hyena operator: short conv, implicit FFT long filter, data gating";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"d_model", ParamType::Int, int64_t{128}, "hidden size (paper Hyena-153M: 864)", 1, 1 << 16},
        {"n_layers", ParamType::Int, int64_t{2}, "number of blocks (paper: 18)", 1, 1024},
        {"l_max", ParamType::Int, int64_t{0},
         "length the filter's time grid spans (0 = the dataset's max length; Global_Mamba: 1024, zoology: L)", 0,
         1 << 22},
        {"filter_order", ParamType::Int, int64_t{64}, "width of the implicit filter's FFN", 1, 4096},
        {"filter_inner_layers", ParamType::Int, int64_t{2}, "hidden Linear+sin layers of the filter FFN after the first", 0, 16},
        {"emb_dim", ParamType::Int, int64_t{33},
         "positional features fed to the filter FFN: t and (emb_dim−1)/2 cos/sin bands; odd, ≥ 3 "
         "(Global_Mamba/safari 153M: 33; zoology's default: 3)",
         3, 1025},
        {"sin_freq", ParamType::Float, 14.0, "initial frequency ω of the filter's sine activations (153M: 14; zoology: 1)", 0, 1e4},
        {"short_filter_order", ParamType::Int, int64_t{3}, "kernel size of the depthwise causal short conv", 1, 1024},
        {"modulate", ParamType::Bool, true, "multiply the filter by the exponential decay window"},
        {"fast_decay_pct", ParamType::Float, 0.3, "fastest channel's window reaches decay_target at this fraction of l_max", 1e-6, 1e6},
        {"slow_decay_pct", ParamType::Float, 1.5, "slowest channel's window reaches decay_target at this fraction of l_max", 1e-6, 1e6},
        {"decay_target", ParamType::Float, 1e-2, "window value reached at fast/slow_decay_pct", 1e-12, 0.999999},
        {"mlp_hidden_mult", ParamType::Int, int64_t{2},
         "GELU MLP hidden = mult × d_model after each Hyena (paper: 2); 0 = none (zoology's MQAR sweeps)", 0, 64},
        {"position_embeddings", ParamType::Bool, true,
         "learned absolute position embedding (Global_Mamba's config: yes; zoology's MQAR sweeps: no)"},
        {"tie_embeddings", ParamType::Bool, true, "share input embedding and LM head (zoology: true)"},
        {"layer_norm_eps", ParamType::Float, 1e-5, "LayerNorm epsilon", 0, 1},
        {"init_std", ParamType::Float, 0.02, "std of the normal initialisation (zoology: 0.02)", 0, 10},
    };
  }
  void check(const Params& p) const override {
    if (p.i("emb_dim") % 2 == 0)
      throw ParamError("emb_dim", "emb_dim = " + std::to_string(p.i("emb_dim")) +
                                      " must be odd: one time feature plus cos/sin pairs");
  }
  std::shared_ptr<Model> build(const Params& p, const ModelShape& s) const override {
    check(p);
    if (p.i("l_max") != 0 && p.i("l_max") < s.max_seq_len)
      throw ParamError("l_max", "l_max = " + std::to_string(p.i("l_max")) + " is shorter than the sequences (" +
                                    std::to_string(s.max_seq_len) + ")");
    return std::make_shared<HyenaModel>(Config(p, s), s);
  }
};

}  // namespace

REPRO_REGISTER_ARCHITECTURE(Hyena)
