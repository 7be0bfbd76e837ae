// Test architecture that draws from the global CPU generator at every training step (Gaussian noise on
// its bigram logits): a resumed run can equal an uninterrupted one only if checkpoints carry the RNG state.
#include <repro/sdk.hpp>

namespace {
using namespace repro::sdk;

class NoisyModel final : public Model {
 public:
  NoisyModel(int64_t vocab, double noise) : noise_(noise) {
    bigram_ = register_parameter("bigram", torch::zeros({vocab, vocab}));  // weight-decayed group
    bias_ = register_parameter("bias", torch::zeros({vocab}));             // undecayed group
  }
  torch::Tensor forward(const torch::Tensor& tokens) override {
    auto out = bigram_.index_select(0, tokens.flatten()).view({tokens.size(0), tokens.size(1), -1}) + bias_;
    if (is_training()) out = out + noise_ * torch::randn(out.sizes());
    return out;
  }

 private:
  double noise_;
  torch::Tensor bigram_, bias_;
};

class Noisy final : public Architecture {
 public:
  std::string name() const override { return "noisy"; }
  std::string version() const override { return "1"; }
  std::string description() const override { return "test: bigram logits plus Gaussian noise while training"; }
  std::vector<ParamSpec> params() const override {
    return {{"noise", ParamType::Float, 0.5, "std of the noise added to the logits while training", 0, 100}};
  }
  std::shared_ptr<Model> build(const Params& p, const ModelShape& s) const override {
    return std::make_shared<NoisyModel>(s.vocab_size, p.f("noise"));
  }
};
}  // namespace

REPRO_REGISTER_ARCHITECTURE(Noisy)
