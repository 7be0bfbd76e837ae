// Test architecture whose loss becomes NaN or +Inf at a chosen training step: exercises the stop path.
#include <repro/sdk.hpp>

namespace {
using namespace repro::sdk;

class ExplodingModel final : public Model {
 public:
  ExplodingModel(int64_t vocab, int64_t nan_at, bool inf) : nan_at_(nan_at), inf_(inf) {
    logits_ = register_parameter("logits", torch::zeros({vocab}));
  }
  torch::Tensor forward(const torch::Tensor& tokens) override {
    auto out = logits_.expand({tokens.size(0), tokens.size(1), logits_.size(0)});
    if (is_training() && ++calls_ >= nan_at_) {
      // inf: every token but 0 gets probability 0, so the cross-entropy of any other target is +Inf.
      const float minus_inf = -std::numeric_limits<float>::infinity();
      out = inf_ ? out + torch::full({logits_.size(0)}, minus_inf).index_fill(0, torch::tensor({0}), 0.0f)
                 : out * std::numeric_limits<float>::quiet_NaN();
    }
    return out;
  }

 private:
  int64_t nan_at_, calls_ = 0;
  bool inf_;
  torch::Tensor logits_;
};

class Explode final : public Architecture {
 public:
  std::string name() const override { return "explode"; }
  std::string version() const override { return "1"; }
  std::string description() const override { return "test: NaN or Inf loss from training step nan_at"; }
  std::vector<ParamSpec> params() const override {
    return {{"nan_at", ParamType::Int, int64_t{5}, "training step whose loss is not finite", 1, 1 << 20},
            {"loss", ParamType::String, std::string("nan"), "what the loss becomes", {}, {}, {"nan", "inf"}}};
  }
  std::shared_ptr<Model> build(const Params& p, const ModelShape& s) const override {
    return std::make_shared<ExplodingModel>(s.vocab_size, p.i("nan_at"), p.s("loss") == "inf");
  }
};
}  // namespace

REPRO_REGISTER_ARCHITECTURE(Explode)
