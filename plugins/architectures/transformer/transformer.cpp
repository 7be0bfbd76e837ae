// Architecture plugin "transformer": a Pythia / GPT-NeoX style decoder.
// Block: x + Attn(LN1(x)) + MLP(LN2(x)) (parallel residual), rotary position embedding on the first
// rotary_pct of each head's dimensions, causal attention through scaled_dot_product_attention,
// GELU MLP, final LayerNorm, untied LM head (Pythia) unless tie_embeddings.
#include <repro/layers.hpp>
#include <repro/sdk.hpp>

#include <cmath>

namespace {
using namespace repro::sdk;

struct Rotary {
  int64_t dims;
  double base;
  // cos/sin tables [L, dims] for positions 0..L-1.
  std::pair<torch::Tensor, torch::Tensor> tables(int64_t L, const torch::Device& dev) const {
    auto inv = 1.0 / torch::pow(base, torch::arange(0, dims, 2, torch::dtype(torch::kFloat).device(dev)) / dims);
    auto t = torch::arange(L, torch::dtype(torch::kFloat).device(dev));
    auto f = torch::outer(t, inv);
    auto emb = torch::cat({f, f}, -1);
    return {emb.cos(), emb.sin()};
  }
  // x: [B, H, L, hd]; rotates the first `dims` features (GPT-NeoX rotate_half convention).
  torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) const {
    if (dims == 0) return x;
    auto r = x.narrow(-1, 0, dims), pass = x.narrow(-1, dims, x.size(-1) - dims);
    auto half = dims / 2;
    auto rot = torch::cat({-r.narrow(-1, half, half), r.narrow(-1, 0, half)}, -1);
    auto out = r * cos.to(x.dtype()) + rot * sin.to(x.dtype());
    return torch::cat({out, pass}, -1);
  }
};

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(int64_t d, int64_t heads, int64_t mlp, double eps, Rotary rot, int64_t conv_width)
      : heads_(heads), rot_(rot),
        ln1_(register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(eps)))),
        ln2_(register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(eps)))),
        qkv_(register_module("qkv", torch::nn::Linear(d, 3 * d))),
        out_(register_module("out", torch::nn::Linear(d, d))),
        up_(register_module("up", torch::nn::Linear(d, mlp))),
        down_(register_module("down", torch::nn::Linear(mlp, d))) {
    if (conv_width > 0) conv_ = register_module("conv", repro::layers::depthwise_conv(d, conv_width));
  }

  // Returns the block output; if `weights` is given, also the head-averaged attention weights [B, L, L].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        torch::Tensor* weights = nullptr) {
    const auto B = x.size(0), L = x.size(1), D = x.size(2), hd = D / heads_;
    auto h = ln1_->forward(x);
    if (conv_) h = repro::layers::causal_conv(conv_, h, /*silu=*/true);  // Achilles' Fig. 9: Q, K, V from SiLU(conv)
    auto qkv = qkv_->forward(h).view({B, L, 3, heads_, hd}).permute({2, 0, 3, 1, 4});
    auto q = rot_.apply(qkv[0], cos, sin), k = rot_.apply(qkv[1], cos, sin), v = qkv[2];
    torch::Tensor a;
    if (weights) {
      auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(hd));
      auto mask = torch::ones({L, L}, torch::dtype(torch::kBool).device(x.device())).triu(1);
      auto w = torch::softmax(scores.masked_fill(mask, -INFINITY).to(torch::kFloat), -1).to(v.dtype());
      *weights = w.mean(1);
      a = torch::matmul(w, v);
    } else {
      a = at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
    }
    a = out_->forward(a.transpose(1, 2).reshape({B, L, D}));
    auto m = down_->forward(torch::gelu(up_->forward(ln2_->forward(x))));
    return x + a + m;
  }

  torch::nn::Linear& out_proj() { return out_; }
  torch::nn::Linear& down_proj() { return down_; }

 private:
  int64_t heads_;
  Rotary rot_;
  torch::nn::LayerNorm ln1_, ln2_;
  torch::nn::Linear qkv_, out_, up_, down_;
  torch::nn::Conv1d conv_{nullptr};
};

class TransformerModel final : public Model {
 public:
  TransformerModel(const Params& p, const ModelShape& s) : rot_{0, p.f("rotary_base")} {
    const int64_t d = p.i("d_model"), h = p.i("n_heads"), layers = p.i("n_layers");
    const int64_t hd = d / h;
    rot_.dims = (static_cast<int64_t>(std::round(hd * p.f("rotary_pct"))) / 2) * 2;
    const double eps = p.f("layer_norm_eps"), std = p.f("init_std");
    embed_ = register_module("embed", torch::nn::Embedding(s.vocab_size, d));
    for (int64_t i = 0; i < layers; ++i)
      blocks_.push_back(register_module("block" + std::to_string(i),
                                        std::make_shared<BlockImpl>(d, h, d * p.i("mlp_ratio"), eps, rot_, p.i("conv_width"))));
    ln_f_ = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(eps)));
    tied_ = p.b("tie_embeddings");
    if (!tied_) head_ = register_module("head", torch::nn::Linear(torch::nn::LinearOptions(d, s.vocab_size).bias(false)));
    // GPT-NeoX-style init: N(0, std) everywhere, residual-branch outputs scaled by 1/sqrt(2·layers). The optional
    // conv keeps LibTorch's default init (N(0, 0.02) on 4 taps would all but erase the attention input).
    torch::NoGradGuard ng;
    for (auto& pr : named_parameters()) {
      if (pr.key().find("ln") != std::string::npos || pr.key().find("conv") != std::string::npos) continue;
      if (pr.value().dim() == 1) pr.value().zero_();
      else pr.value().normal_(0, std);
    }
    for (auto& b : blocks_) {
      b->out_proj()->weight.normal_(0, std / std::sqrt(2.0 * layers));
      b->down_proj()->weight.normal_(0, std / std::sqrt(2.0 * layers));
    }
    if (p.f("init_rate") > 0) init_rate(*this, p.f("init_rate"));  // the phase-diagram axis replaces the above
  }

  torch::Tensor forward(const torch::Tensor& tokens) override { return run(tokens, nullptr); }

  std::vector<torch::Tensor> mixing_matrices(const torch::Tensor& tokens) override {
    std::vector<torch::Tensor> w;
    run(tokens, &w);
    return w;
  }

 private:
  torch::Tensor run(const torch::Tensor& tokens, std::vector<torch::Tensor>* weights) {
    auto x = embed_->forward(tokens);
    auto [cos, sin] = rot_.tables(tokens.size(1), tokens.device());
    for (auto& b : blocks_) {
      torch::Tensor w;
      x = b->forward(x, cos, sin, weights ? &w : nullptr);
      if (weights) weights->push_back(w);
    }
    x = ln_f_->forward(x);
    return tied_ ? torch::matmul(x, embed_->weight.t()) : head_->forward(x);
  }

  Rotary rot_;
  bool tied_ = false;
  torch::nn::Embedding embed_{nullptr};
  std::vector<std::shared_ptr<BlockImpl>> blocks_;
  torch::nn::LayerNorm ln_f_{nullptr};
  torch::nn::Linear head_{nullptr};
};

class Transformer final : public Architecture {
 public:
  std::string name() const override { return "transformer"; }
  std::string version() const override { return "1"; }
  std::string description() const override {
    return "Pythia/GPT-NeoX style decoder: rotary, parallel attention + MLP, LayerNorm, SDPA attention";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"d_model", ParamType::Int, int64_t{128}, "hidden size", 8, 1 << 16},
        {"n_layers", ParamType::Int, int64_t{2}, "number of blocks", 1, 1024},
        {"n_heads", ParamType::Int, int64_t{2}, "attention heads (must divide d_model)", 1, 1024},
        {"mlp_ratio", ParamType::Int, int64_t{4}, "MLP hidden = mlp_ratio x d_model", 1, 64},
        {"rotary_pct", ParamType::Float, 0.25, "fraction of each head's dims with rotary embedding (Pythia 0.25)", 0, 1},
        {"rotary_base", ParamType::Float, 10000.0, "rotary frequency base", 1, 1e9},
        {"layer_norm_eps", ParamType::Float, 1e-5, "LayerNorm epsilon", 0, 1},
        {"init_std", ParamType::Float, 0.02, "std of the normal initialisation", 0, 10},
        {"tie_embeddings", ParamType::Bool, false, "share input embedding and LM head (Pythia: false)"},
        {"conv_width", ParamType::Int, int64_t{0},
         "width of a causal depthwise conv + SiLU on each block's normalised input before Q, K, V (Achilles' Heel "
         "Fig. 9; 0 = none)", 0, 64},
        {"init_rate", ParamType::Float, 0.0,
         "gamma: re-initialise every Linear/Embedding weight ~ N(0, fan_in^-2gamma) (0 = the GPT-NeoX init with init_std)", 0, 10},
    };
  }
  void check(const Params& p) const override {
    if (p.i("d_model") % p.i("n_heads"))
      throw ParamError("n_heads", "n_heads = " + std::to_string(p.i("n_heads")) + " does not divide d_model = " +
                                      std::to_string(p.i("d_model")));
  }
  std::shared_ptr<Model> build(const Params& p, const ModelShape& s) const override {
    return std::make_shared<TransformerModel>(p, s);
  }
};

}  // namespace

REPRO_REGISTER_ARCHITECTURE(Transformer)
