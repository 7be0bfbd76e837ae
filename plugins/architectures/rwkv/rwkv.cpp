// Architecture plugin "rwkv": an RWKV-4 language model (Peng et al. 2023).
// embedding -> [LN0] -> blocks x + TimeMix(LN1(x)); x + FFN(LN2(x)) -> final LN -> head.
// TimeMix = token shift, k/v/r projections, WKV (wkv.hpp), sigma(r) * wkv, output projection.
// FFN = zoology's MLP (the paper's RWKV-153M), RWKV-4's channel-mix, or none.
#include <repro/sdk.hpp>

#include <c10/core/impl/LocalDispatchKeySet.h>

#include <cmath>

#include <repro/kernels.hpp>

#include "wkv.hpp"

namespace {
using namespace repro::sdk;

// The previous token's features (zero before the first token): RWKV's token shift.
torch::Tensor shift(const torch::Tensor& x) { return torch::constant_pad_nd(x, {0, 0, 1, -1}); }
// Per-channel interpolation mu * x + (1 - mu) * previous.
torch::Tensor mix(const torch::Tensor& x, const torch::Tensor& prev, const torch::Tensor& mu) {
  return prev + (x - prev) * mu;
}

// RWKV-4's depth-dependent initial values (the "fancy init"), for layer `layer` of `depth`:
// channel i of d has position i/d along the ramps.
struct Ramps {
  double r01, r10;  // 0 -> 1 over depth, and 1 -> ~0
  torch::Tensor pos;  // i / d
  Ramps(int64_t layer, int64_t depth, int64_t d)
      : r01(depth > 1 ? static_cast<double>(layer) / static_cast<double>(depth - 1) : 0.0),
        r10(1.0 - static_cast<double>(layer) / static_cast<double>(depth)),
        pos(torch::arange(d, torch::kFloat) / static_cast<double>(d)) {}
};

torch::nn::Linear linear(int64_t in, int64_t out, bool bias) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

class TimeMixImpl : public torch::nn::Module {
 public:
  TimeMixImpl(int64_t d, const Ramps& r)
      : key_(register_module("key", linear(d, d, false))),
        value_(register_module("value", linear(d, d, false))),
        receptance_(register_module("receptance", linear(d, d, false))),
        output_(register_module("output", linear(d, d, false))) {
    // time_decay ramps from -5 to 3 across channels (w = -e^time_decay: from slow, -0.007 per step, to
    // fast, -20), bent towards fast channels in deeper layers; bonus log(0.3) with a +-0.5 zigzag.
    auto h = torch::arange(d, torch::kFloat) / static_cast<double>(std::max<int64_t>(d - 1, 1));
    time_decay = register_parameter("time_decay", -5.0 + 8.0 * torch::pow(h, 0.7 + 1.3 * r.r01));
    auto zigzag = (torch::remainder(torch::arange(1, d + 1, torch::kFloat), 3.0) - 1.0) * 0.5;
    time_first = register_parameter("time_first", zigzag + std::log(0.3));
    mix_k = register_parameter("mix_k", torch::pow(r.pos, r.r10));
    mix_v = register_parameter("mix_v", torch::pow(r.pos, r.r10) + 0.3 * r.r01);
    mix_r = register_parameter("mix_r", torch::pow(r.pos, 0.5 * r.r10));
  }

  // If `weights` is given, also the channel-averaged normalised WKV weights [B, L, L].
  torch::Tensor forward(const torch::Tensor& x, const std::string& form, int64_t chunk, torch::Tensor* weights) {
    auto prev = shift(x);
    auto k = key_->forward(mix(x, prev, mix_k)), v = value_->forward(mix(x, prev, mix_v));
    auto r = receptance_->forward(mix(x, prev, mix_r));
    torch::Tensor y;
    {
      // The recurrence and its exponentials run in fp32 (fp64 if the model is) even under the trainer's
      // bf16 autocast.
      c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
      const auto type = time_decay.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
      auto w = -torch::exp(time_decay.to(type)), u = time_first.to(type);
      auto kf = k.to(type), vf = v.to(type);
      if (form == "auto" && type == torch::kFloat) y = repro::kernels::wkv4(w, u, kf, vf);  // our CUDA kernel
      if (!y.defined())
        y = form == "recurrent" ? rwkv::wkv_recurrent(w, u, kf, vf) : rwkv::wkv_parallel(w, u, kf, vf, chunk);
      if (weights) *weights = rwkv::wkv_weights(w, u, kf);
    }
    return output_->forward(torch::sigmoid(r).to(y.dtype()) * y);
  }

  torch::nn::Linear& out_proj() { return output_; }
  torch::Tensor time_decay, time_first, mix_k, mix_v, mix_r;

 private:
  torch::nn::Linear key_, value_, receptance_, output_;
};

// The feed-forward half of a block; out_proj() is its residual-branch output (scaled at init).
class Ffn : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  virtual torch::nn::Linear& out_proj() = 0;
};

// zoology's MLP state mixer: fc2(GELU(fc1 x)), with biases.
class Mlp final : public Ffn {
 public:
  Mlp(int64_t d, int64_t hidden)
      : fc1_(register_module("fc1", linear(d, hidden, true))), fc2_(register_module("fc2", linear(hidden, d, true))) {}
  torch::Tensor forward(const torch::Tensor& x) override { return fc2_->forward(torch::gelu(fc1_->forward(x))); }
  torch::nn::Linear& out_proj() override { return fc2_; }

 private:
  torch::nn::Linear fc1_, fc2_;
};

// RWKV-4's channel-mix: sigma(W_r x_r) * W_v relu(W_k x_k)^2, with token-shifted inputs.
class ChannelMix final : public Ffn {
 public:
  ChannelMix(int64_t d, int64_t hidden, const Ramps& r)
      : key_(register_module("key", linear(d, hidden, false))),
        value_(register_module("value", linear(hidden, d, false))),
        receptance_(register_module("receptance", linear(d, d, false))) {
    mix_k = register_parameter("mix_k", torch::pow(r.pos, r.r10));
    mix_r = register_parameter("mix_r", torch::pow(r.pos, r.r10));
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    auto prev = shift(x);
    auto k = torch::square(torch::relu(key_->forward(mix(x, prev, mix_k))));
    return torch::sigmoid(receptance_->forward(mix(x, prev, mix_r))) * value_->forward(k);
  }
  torch::nn::Linear& out_proj() override { return value_; }
  torch::Tensor mix_k, mix_r;

 private:
  torch::nn::Linear key_, value_, receptance_;
};

struct Config {
  int64_t d, layers, ramp_layers, hidden, chunk;
  std::string ffn;
  bool tied, ln0;
  std::string wkv;  // "auto" | "parallel" | "recurrent"
  double eps, std;
  explicit Config(const Params& p)
      : d(p.i("d_model")), layers(p.i("n_layers")),
        ramp_layers(p.i("ramp_layers") ? p.i("ramp_layers") : p.i("n_layers")),
        hidden(p.i("ffn_mult") * p.i("d_model")), chunk(p.i("wkv_chunk")), ffn(p.s("ffn")),
        tied(p.b("tie_embeddings")), ln0(p.b("ln0")), wkv(p.s("wkv")),
        eps(p.f("layer_norm_eps")), std(p.f("init_std")) {}
};

torch::nn::LayerNorm layer_norm(const Config& c) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d}).eps(c.eps));
}

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const Config& c, int64_t layer) : wkv_(c.wkv), chunk_(c.chunk) {
    Ramps r(layer, c.ramp_layers, c.d);
    ln1_ = register_module("ln1", layer_norm(c));
    time_mix_ = register_module("time_mix", std::make_shared<TimeMixImpl>(c.d, r));
    if (c.ffn == "none") return;
    ln2_ = register_module("ln2", layer_norm(c));
    if (c.ffn == "mlp") ffn_ = register_module("ffn", std::make_shared<Mlp>(c.d, c.hidden));
    else ffn_ = register_module("ffn", std::make_shared<ChannelMix>(c.d, c.hidden, r));
  }

  torch::Tensor forward(torch::Tensor x, torch::Tensor* weights) {
    x = x + time_mix_->forward(ln1_->forward(x), wkv_, chunk_, weights);
    return ffn_ ? x + ffn_->forward(ln2_->forward(x)) : x;
  }

  std::vector<torch::nn::Linear*> residual_outputs() {
    std::vector<torch::nn::Linear*> out{&time_mix_->out_proj()};
    if (ffn_) out.push_back(&ffn_->out_proj());
    return out;
  }

 private:
  std::string wkv_;
  int64_t chunk_;
  torch::nn::LayerNorm ln1_{nullptr}, ln2_{nullptr};
  std::shared_ptr<TimeMixImpl> time_mix_;
  std::shared_ptr<Ffn> ffn_;
};

class RwkvModel final : public Model {
 public:
  RwkvModel(const Config& c, const ModelShape& s) : tied_(c.tied) {
    embed_ = register_module("embed", torch::nn::Embedding(s.vocab_size, c.d));
    if (c.ln0) ln0_ = register_module("ln0", layer_norm(c));
    for (int64_t i = 0; i < c.layers; ++i)
      blocks_.push_back(register_module("block" + std::to_string(i), std::make_shared<BlockImpl>(c, i)));
    ln_f_ = register_module("ln_f", layer_norm(c));
    if (!tied_) head_ = register_module("head", linear(c.d, s.vocab_size, false));
    // zoology's init for matrices (its LanguageModel re-initialises the RWKV mixer's linears this way):
    // N(0, std), biases 0, residual-branch outputs N(0, std / sqrt(2 layers)). The time parameters keep
    // the RWKV ramps set by the modules.
    torch::NoGradGuard ng;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* l = m->as<torch::nn::Linear>()) {
        l->weight.normal_(0, c.std);
        if (l->bias.defined()) l->bias.zero_();
      }
    }
    embed_->weight.normal_(0, c.std);
    for (auto& b : blocks_)
      for (auto* l : b->residual_outputs()) (*l)->weight.normal_(0, c.std / std::sqrt(2.0 * c.layers));
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
    if (ln0_) x = ln0_->forward(x);
    for (auto& b : blocks_) {
      torch::Tensor w;
      x = b->forward(x, weights ? &w : nullptr);
      if (weights) weights->push_back(w);
    }
    x = ln_f_->forward(x);
    return tied_ ? torch::matmul(x, embed_->weight.t()) : head_->forward(x);
  }

  bool tied_;
  torch::nn::Embedding embed_{nullptr};
  torch::nn::LayerNorm ln0_{nullptr}, ln_f_{nullptr};
  std::vector<std::shared_ptr<BlockImpl>> blocks_;
  torch::nn::Linear head_{nullptr};
};

class Rwkv final : public Architecture {
 public:
  std::string name() const override { return "rwkv"; }
  std::string version() const override { return "1"; }
  std::string description() const override {
    return "RWKV-4: token-shift time-mix with the WKV recurrence (parallel or recurrent form) + MLP/channel-mix";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"d_model", ParamType::Int, int64_t{128}, "hidden size (paper: 1024)", 2, 1 << 16},
        {"n_layers", ParamType::Int, int64_t{2}, "number of blocks (paper: 12)", 1, 1024},
        {"ffn", ParamType::String, std::string("mlp"),
         "feed-forward after each time-mix: \"mlp\" (zoology's GELU MLP, the paper's RWKV-153M), \"channelmix\" "
         "(RWKV-4), \"none\" (zoology's MQAR sweeps)",
         std::nullopt, std::nullopt, {"mlp", "channelmix", "none"}},
        {"ffn_mult", ParamType::Int, int64_t{2}, "feed-forward hidden = ffn_mult x d_model (paper 2; RWKV-4 uses 4)",
         1, 64},
        {"tie_embeddings", ParamType::Bool, true, "share input embedding and LM head (zoology/paper: true)"},
        {"ln0", ParamType::Bool, false, "LayerNorm right after the embedding (RWKV-4: true; zoology: false)"},
        {"wkv", ParamType::String, std::string("auto"),
         "WKV form: \"auto\" (our CUDA kernel on GPU, else parallel), \"parallel\" (chunked LibTorch) or "
         "\"recurrent\" (step over time, the reference); all compute the same function",
         std::nullopt, std::nullopt, {"auto", "parallel", "recurrent"}},
        {"wkv_chunk", ParamType::Int, int64_t{16},
         "parallel WKV: positions per chunk (exact for any value; memory and work grow with it)", 1, 1 << 20},
        {"ramp_layers", ParamType::Int, int64_t{0},
         "depth the RWKV init ramps assume (0 = n_layers; zoology's mixer always assumes 12)", 0, 1024},
        {"layer_norm_eps", ParamType::Float, 1e-5, "LayerNorm epsilon", 0, 1},
        {"init_std", ParamType::Float, 0.02, "std of the normal initialisation of matrices and embedding", 0, 10},
    };
  }
  void check(const Params& p) const override {
    const int64_t ramp = p.i("ramp_layers"), layers = p.i("n_layers");
    // Layer l's shift ramp is (i/d)^(1 - l/ramp): past the assumed depth the exponent is <= 0 and
    // channel 0's mix becomes 0^0 or infinite.
    if (ramp != 0 && ramp < layers)
      throw ParamError("ramp_layers", "ramp_layers = " + std::to_string(ramp) + " is less than n_layers = " +
                                          std::to_string(layers) + " (0 means n_layers)");
  }
  std::shared_ptr<Model> build(const Params& p, const ModelShape& s) const override {
    check(p);
    return std::make_shared<RwkvModel>(Config(p), s);
  }
};

}  // namespace

REPRO_REGISTER_ARCHITECTURE(Rwkv)
