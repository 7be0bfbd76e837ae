// Architecture plugin "mamba": a Mamba-1 language model (the HF MambaForCausalLM of state-spaces/mamba-130m-hf,
// randomly initialised), optionally with the Global Selection module (global_selection = true):
//   h = embed(tokens) (fp32 residual stream);  per layer: h = h + Mixer(RMSNorm(h));  logits = RMSNorm(h) E^T
// with the embedding E tied to the output. The "Achilles' Heel of Mamba" variants: conv (mixer.hpp),
// positional_embedding (a learned absolute position embedding added to embed(tokens)), init_rate (gamma). mixer.hpp has the mixer, scan.hpp the selective scan,
// attention.hpp the attention-like matrix; README.md the parameters, paper configurations and counts.
#include <repro/sdk.hpp>

#include <algorithm>
#include <cmath>

#include "attention.hpp"
#include "mixer.hpp"

namespace {
using namespace repro::sdk;

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t d, double eps) : eps_(eps), weight_(register_parameter("weight", torch::ones({d}))) {}
  torch::Tensor forward(const torch::Tensor& x) {  // in fp32, as HF's MambaRMSNorm
    auto xf = x.to(torch::kFloat);
    return xf * torch::rsqrt(xf.pow(2).mean(-1, true) + eps_) * weight_;
  }

 private:
  double eps_;
  torch::Tensor weight_;
};
TORCH_MODULE(RMSNorm);

struct BlockImpl : torch::nn::Module {
  BlockImpl(const mamba::MixerConfig& c, double eps)
      : norm(register_module("norm", RMSNorm(c.d_model, eps))), mixer(register_module("mixer", mamba::Mixer(c))) {}
  RMSNorm norm;
  mamba::Mixer mixer;
};
TORCH_MODULE(Block);

// long_conv_kernel as built: 0 in the config means a quarter of the longest sequence (the paper's rule).
int64_t long_conv_kernel(const Params& p, const ModelShape& s) {
  return p.i("long_conv_kernel") > 0 ? p.i("long_conv_kernel") : std::max<int64_t>(1, s.max_seq_len / 4);
}

bool has_global_selection(const Params& p, int64_t layer) {
  const auto& only = p.ints("global_selection_layers");
  return p.b("global_selection") && (only.empty() || std::find(only.begin(), only.end(), layer) != only.end());
}

class MambaModel final : public Model {
 public:
  MambaModel(const Params& p, const ModelShape& s) {
    const int64_t d = p.i("d_model");
    embeddings_ = register_module("embeddings", torch::nn::Embedding(s.vocab_size, d));
    layers_ = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < p.i("n_layers"); ++i) {
      mamba::MixerConfig c{d,
                           p.i("expand") * d,
                           p.i("d_state"),
                           p.i("d_conv"),
                           p.i("dt_rank") > 0 ? p.i("dt_rank") : (d + 15) / 16,
                           p.f("dt_min"),
                           p.f("dt_max"),
                           p.f("dt_init_floor"),
                           has_global_selection(p, i) ? long_conv_kernel(p, s) : 0,
                           p.s("scan"),
                           p.s("conv")};
      blocks_.push_back(Block(c, p.f("norm_eps")));
      layers_->push_back(blocks_.back());
    }
    norm_f_ = register_module("norm_f", RMSNorm(d, p.f("norm_eps")));
    if (p.b("positional_embedding"))
      positions_ = register_module("position_embeddings", torch::nn::Embedding(s.max_seq_len, d));
    torch::NoGradGuard ng;
    embeddings_->weight.normal_(0, p.f("init_std"));  // HF: N(0, initializer_range = 0.1)
    if (positions_) positions_->weight.normal_(0, p.f("init_std"));
    if (p.f("init_rate") > 0) init_rate(*this, p.f("init_rate"));
  }

  torch::Tensor forward(const torch::Tensor& tokens) override { return run(tokens, nullptr); }

  torch::Tensor intervene(const torch::Tensor& tokens, const SsmIntervention& iv) override {
    if (iv.block_from.defined() != iv.block_to.defined())
      throw std::invalid_argument("intervene: block_from and block_to go together");
    if (iv.block_from.defined() && (iv.block_from & iv.block_to).any().item<bool>())
      throw std::invalid_argument("intervene: a position is both a blocking source and a target");
    if (iv.substitute.defined() && iv.donor.size() != blocks_.size())
      throw std::invalid_argument("intervene: the donor has " + std::to_string(iv.donor.size()) +
                                  " layers of internals, the model " + std::to_string(blocks_.size()));
    torch::NoGradGuard ng;
    return run(tokens, nullptr, &iv);
  }

  std::vector<std::map<std::string, torch::Tensor>> internals(const torch::Tensor& tokens) override {
    torch::NoGradGuard ng;
    std::vector<std::map<std::string, torch::Tensor>> out;
    run(tokens, &out);
    return out;
  }

  // Per layer [B, L, L]: the mean over channels of |alpha| of the paper's Eq. 5 (attention.hpp says why).
  std::vector<torch::Tensor> mixing_matrices(const torch::Tensor& tokens) override {
    std::vector<torch::Tensor> out;
    for (const auto& t : internals(tokens))
      out.push_back(mamba::mean_abs_attention(t.at("ssm.delta"), t.at("ssm.A"), t.at("ssm.B"), t.at("ssm.C")));
    return out;
  }

 private:
  torch::Tensor run(const torch::Tensor& tokens, std::vector<std::map<std::string, torch::Tensor>>* internals,
                    const SsmIntervention* iv = nullptr) {
    auto h = embeddings_->forward(tokens).to(torch::kFloat);  // the residual stream stays fp32
    if (positions_) h = h + positions_->forward(torch::arange(tokens.size(1), tokens.options())).to(torch::kFloat);
    for (size_t l = 0; l < blocks_.size(); ++l) {
      auto& b = blocks_[l];
      std::map<std::string, torch::Tensor> layer;
      const auto* donor = iv && iv->substitute.defined() ? &iv->donor[l] : nullptr;
      h = h + b->mixer->forward(b->norm->forward(h), internals ? &layer : nullptr, iv, donor).to(torch::kFloat);
      if (internals) internals->push_back(std::move(layer));
    }
    return torch::matmul(norm_f_->forward(h), embeddings_->weight.t()).to(torch::kFloat);
  }

  torch::nn::Embedding embeddings_{nullptr}, positions_{nullptr};
  torch::nn::ModuleList layers_{nullptr};
  std::vector<Block> blocks_;
  RMSNorm norm_f_{nullptr};
};

class Mamba final : public Architecture {
 public:
  std::string name() const override { return "mamba"; }
  std::string version() const override { return "1"; }
  std::string description() const override {
    return "Mamba-1 language model (selective SSM), optionally with the Local-Pattern-Shortcuts paper's Global "
           "Selection module";
  }
  std::vector<ParamSpec> params() const override {
    const int64_t big = int64_t{1} << 20;
    return {
        {"d_model", ParamType::Int, int64_t{128}, "hidden size (paper: 768)", 1, big},
        {"n_layers", ParamType::Int, int64_t{2}, "number of blocks (paper: 24)", 1, 1024},
        {"d_state", ParamType::Int, int64_t{16}, "SSM state per channel: 16 / 32 / 64 = the paper's 1x / 2x / 4x state",
         1, 4096},
        {"expand", ParamType::Int, int64_t{2}, "d_inner = expand x d_model", 1, 64},
        {"d_conv", ParamType::Int, int64_t{4}, "kernel of the short causal convolution", 1, 1024},
        {"dt_rank", ParamType::Int, int64_t{0}, "rank of delta's projection (0 = ceil(d_model / 16))", 0, big},
        {"dt_min", ParamType::Float, 1e-3, "smallest initial delta", 1e-8, 100},
        {"dt_max", ParamType::Float, 0.1, "largest initial delta", 1e-8, 100},
        {"dt_init_floor", ParamType::Float, 1e-4, "floor of the initial delta", 0, 100},
        {"norm_eps", ParamType::Float, 1e-5, "RMSNorm epsilon", 0, 1},
        {"init_std", ParamType::Float, 0.1, "std of the (tied) embedding init (HF initializer_range)", 0, 10},
        {"scan", ParamType::String, std::string("auto"),
         "selective scan: sequential (step by step, the reference), parallel (log-depth, for GPUs) or auto "
         "(CUDA: our fused kernel, or parallel when built without nvcc; CPU: sequential); all compute the same "
         "function",
         {}, {}, {"auto", "parallel", "sequential"}},
        {"global_selection", ParamType::Bool, false, "add Global Selection: a long causal conv gating delta"},
        {"long_conv_kernel", ParamType::Int, int64_t{0}, "Global Selection kernel (0 = longest sequence / 4)", 0, big},
        {"global_selection_layers", ParamType::IntList, std::vector<int64_t>{},
         "0-based layers with Global Selection (empty = every layer)", 0, 1023},
        {"conv", ParamType::String, std::string("standard"),
         "short conv before the SSM (Achilles' Heel variants): standard SiLU(conv(x)); none SiLU(x); residual "
         "SiLU(conv(x)) + x; ones: kernel fixed to all ones",
         {}, {}, {"standard", "none", "residual", "ones"}},
        {"positional_embedding", ParamType::Bool, false, "add a learned absolute position embedding to the input"},
        {"init_rate", ParamType::Float, 0.0,
         "gamma: re-initialise every Linear/Embedding/Conv weight ~ N(0, fan_in^-2gamma) (0 = keep the HF init)", 0,
         10},
    };
  }

  // The declared bounds and choices again (a Params built in code bypasses the spec reader), then the
  // constraints between parameters.
  void check(const Params& p) const override {
    for (const auto& s : params()) {
      auto out_of_bounds = [&](double v) { return (s.min && v < *s.min) || (s.max && v > *s.max); };
      auto bounds = "[" + (s.min ? fmt(*s.min) : "-inf") + ", " + (s.max ? fmt(*s.max) : "inf") + "]";
      if (s.type == ParamType::Int && out_of_bounds(static_cast<double>(p.i(s.name))))
        throw ParamError(s.name, s.name + " = " + std::to_string(p.i(s.name)) + " is outside " + bounds);
      if (s.type == ParamType::Float && (!std::isfinite(p.f(s.name)) || out_of_bounds(p.f(s.name))))
        throw ParamError(s.name, s.name + " = " + fmt(p.f(s.name)) + " is outside " + bounds);
      if (s.type == ParamType::IntList)
        for (int64_t v : p.ints(s.name))
          if (out_of_bounds(static_cast<double>(v)))
            throw ParamError(s.name, s.name + " holds " + std::to_string(v) + ", outside " + bounds);
      if (s.type == ParamType::String && !s.choices.empty() &&
          std::find(s.choices.begin(), s.choices.end(), p.s(s.name)) == s.choices.end()) {
        std::string list;
        for (const auto& c : s.choices) list += (list.empty() ? "" : ", ") + c;
        throw ParamError(s.name, s.name + " = \"" + p.s(s.name) + "\" is not one of " + list);
      }
    }
    if (p.f("dt_min") > p.f("dt_max")) throw ParamError("dt_min", "dt_min must not exceed dt_max");
    for (int64_t l : p.ints("global_selection_layers"))
      if (l >= p.i("n_layers"))
        throw ParamError("global_selection_layers", "global_selection_layers names layer " + std::to_string(l) +
                                                        ", but layers are 0.." + std::to_string(p.i("n_layers") - 1));
    if (!p.b("global_selection") && p.i("long_conv_kernel") > 0)
      throw ParamError("long_conv_kernel", "long_conv_kernel is set but global_selection is false");
    if (!p.b("global_selection") && !p.ints("global_selection_layers").empty())
      throw ParamError("global_selection_layers", "global_selection_layers is set but global_selection is false");
  }

  std::shared_ptr<Model> build(const Params& p, const ModelShape& s) const override {
    check(p);
    const int64_t k = long_conv_kernel(p, s);
    if (p.b("global_selection") && k > s.max_seq_len)
      throw ParamError("long_conv_kernel", "long_conv_kernel = " + std::to_string(k) +
                                               " is longer than the longest sequence (" +
                                               std::to_string(s.max_seq_len) + ")");
    return std::make_shared<MambaModel>(p, s);
  }

 private:
  static std::string fmt(double v) {
    std::ostringstream o;
    o << v;
    return o.str();
  }
};

}  // namespace

REPRO_REGISTER_ARCHITECTURE(Mamba)
