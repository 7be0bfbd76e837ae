// Architecture plugin "mamba": a Mamba-1 language model (the HF MambaForCausalLM of mamba-130m-hf,
// randomly initialised), optionally with Global Selection (global_selection = true). Blocks are
// x = x + Mixer(RMSNorm(x)) with the residual stream in fp32, a final RMSNorm, and logits from the
// tied embedding. README.md: parameters, paper configurations and exact parameter counts.
#include <repro/sdk.hpp>

#include <algorithm>
#include <cmath>

#include "mixer.hpp"
#include "scan.hpp"

namespace {
using namespace repro::sdk;

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t d, double eps) : eps_(eps), weight_(register_parameter("weight", torch::ones({d}))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    auto xf = x.to(torch::kFloat);
    return xf * torch::rsqrt(xf.pow(2).mean(-1, true) + eps_) * weight_;
  }

 private:
  double eps_;
  torch::Tensor weight_;
};
TORCH_MODULE(RMSNorm);

class MambaModel final : public Model {
 public:
  MambaModel(const Params& p, const ModelShape& s) {
    const int64_t d = p.i("d_model"), layers = p.i("n_layers");
    const int64_t kernel = p.i("long_conv_kernel") > 0 ? p.i("long_conv_kernel") : std::max<int64_t>(1, s.max_seq_len / 4);
    if (p.b("global_selection") && kernel > s.max_seq_len)
      throw ParamError("long_conv_kernel", "long_conv_kernel = " + std::to_string(kernel) +
                                               " is longer than the longest sequence (" + std::to_string(s.max_seq_len) + ")");
    const auto& gs_layers = p.ints("global_selection_layers");
    embed_ = register_module("embed", torch::nn::Embedding(s.vocab_size, d));
    for (int64_t i = 0; i < layers; ++i) {
      const bool gs = p.b("global_selection") &&
                      (gs_layers.empty() || std::find(gs_layers.begin(), gs_layers.end(), i) != gs_layers.end());
      mamba::MixerConfig c{d,
                           p.i("expand") * d,
                           p.i("d_state"),
                           p.i("d_conv"),
                           p.i("dt_rank") > 0 ? p.i("dt_rank") : (d + 15) / 16,
                           p.f("dt_min"),
                           p.f("dt_max"),
                           p.f("dt_init_floor"),
                           gs ? kernel : 0,
                           p.s("scan"),
                           layers};
      norms_.push_back(register_module("norm" + std::to_string(i), RMSNorm(d, p.f("norm_eps"))));
      mixers_.push_back(register_module("mixer" + std::to_string(i), mamba::Mixer(c)));
    }
    norm_f_ = register_module("norm_f", RMSNorm(d, p.f("norm_eps")));
    torch::NoGradGuard ng;
    embed_->weight.normal_(0, p.f("init_std"));
  }

  torch::Tensor forward(const torch::Tensor& tokens) override { return run(tokens, nullptr); }

  std::vector<std::map<std::string, torch::Tensor>> internals(const torch::Tensor& tokens) override {
    std::vector<std::map<std::string, torch::Tensor>> out;
    torch::NoGradGuard ng;
    run(tokens, &out);
    return out;
  }

  // Per layer: mean over channels of |alpha| of the paper's Eq. 5 (see scan.hpp). The magnitude,
  // because channels weigh tokens with either sign and a plain mean would cancel them out.
  std::vector<torch::Tensor> mixing_matrices(const torch::Tensor& tokens) override {
    std::vector<torch::Tensor> out;
    for (const auto& layer : internals(tokens))
      out.push_back(mamba::attention_like(layer.at("ssm.delta"), layer.at("ssm.A"), layer.at("ssm.B"), layer.at("ssm.C")));
    return out;
  }

 private:
  torch::Tensor run(const torch::Tensor& tokens, std::vector<std::map<std::string, torch::Tensor>>* cap) {
    auto h = embed_->forward(tokens).to(torch::kFloat);  // residual stream in fp32
    for (size_t i = 0; i < mixers_.size(); ++i) {
      std::map<std::string, torch::Tensor> layer;
      h = h + mixers_[i]->forward(norms_[i]->forward(h), cap ? &layer : nullptr).to(torch::kFloat);
      if (cap) cap->push_back(std::move(layer));
    }
    return torch::matmul(norm_f_->forward(h), embed_->weight.t()).to(torch::kFloat);
  }

  torch::nn::Embedding embed_{nullptr};
  std::vector<RMSNorm> norms_;
  std::vector<mamba::Mixer> mixers_;
  RMSNorm norm_f_{nullptr};
};

class Mamba final : public Architecture {
 public:
  std::string name() const override { return "mamba"; }
  std::string version() const override { return "1"; }
  std::string description() const override {
    return "Mamba-1 language model (selective SSM), optionally with the paper's Global Selection module";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"d_model", ParamType::Int, int64_t{128}, "hidden size (paper: 768)", 2, 1 << 16},
        {"n_layers", ParamType::Int, int64_t{2}, "number of blocks (paper: 24)", 1, 1024},
        {"d_state", ParamType::Int, int64_t{16}, "SSM state per channel: 16 / 32 / 64 = the paper's 1x / 2x / 4x state", 1, 4096},
        {"expand", ParamType::Int, int64_t{2}, "d_inner = expand x d_model", 1, 16},
        {"d_conv", ParamType::Int, int64_t{4}, "kernel of the short causal convolution", 1, 64},
        {"dt_rank", ParamType::Int, int64_t{0}, "rank of the delta projection (0 = ceil(d_model / 16))", 0, 1 << 16},
        {"dt_min", ParamType::Float, 1e-3, "smallest initial delta", 1e-8, 10},
        {"dt_max", ParamType::Float, 0.1, "largest initial delta", 1e-8, 10},
        {"dt_init_floor", ParamType::Float, 1e-4, "floor of the initial delta", 0, 10},
        {"norm_eps", ParamType::Float, 1e-5, "RMSNorm epsilon", 0, 1},
        {"init_std", ParamType::Float, 0.1, "std of the embedding init (HF MambaConfig initializer_range)", 0, 10},
        {"scan", ParamType::String, std::string("auto"),
         "parallel: log-depth scan (fast on GPU, more memory); sequential: step by step (the reference, faster on "
         "CPU); auto: parallel on CUDA, sequential on CPU. All compute the same function.",
         {}, {}, {"auto", "parallel", "sequential"}},
        {"global_selection", ParamType::Bool, false, "add the Global Selection module (long conv gating delta)"},
        {"long_conv_kernel", ParamType::Int, int64_t{0}, "Global Selection kernel (0 = longest sequence / 4)", 0, 1 << 20},
        {"global_selection_layers", ParamType::IntList, std::vector<int64_t>{},
         "0-based layers with Global Selection (default: every layer)", 0, 1024},
    };
  }
  void check(const Params& p) const override {
    if (p.f("dt_min") > p.f("dt_max")) throw ParamError("dt_min", "dt_min must not exceed dt_max");
    for (int64_t l : p.ints("global_selection_layers"))
      if (l >= p.i("n_layers"))
        throw ParamError("global_selection_layers", "layer " + std::to_string(l) + " does not exist (n_layers = " +
                                                        std::to_string(p.i("n_layers")) + ")");
    if (!p.b("global_selection") && (p.i("long_conv_kernel") > 0 || !p.ints("global_selection_layers").empty()))
      throw ParamError(p.i("long_conv_kernel") > 0 ? "long_conv_kernel" : "global_selection_layers",
                       "set global_selection = true to use the Global Selection module");
  }
  std::shared_ptr<Model> build(const Params& p, const ModelShape& s) const override {
    return std::make_shared<MambaModel>(p, s);
  }
};

}  // namespace

REPRO_REGISTER_ARCHITECTURE(Mamba)
