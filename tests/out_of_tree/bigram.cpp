// The smallest architecture: next-token logits from the current token only (a bigram table).
#include <repro/sdk.hpp>

namespace {
using namespace repro::sdk;

class BigramModel final : public Model {
 public:
  explicit BigramModel(int64_t vocab) { table_ = register_module("table", torch::nn::Embedding(vocab, vocab)); }
  torch::Tensor forward(const torch::Tensor& tokens) override { return table_->forward(tokens); }

 private:
  torch::nn::Embedding table_{nullptr};
};

class Bigram final : public Architecture {
 public:
  std::string name() const override { return "bigram"; }
  std::string version() const override { return "1"; }
  std::string description() const override { return "out-of-tree example: a bigram table"; }
  std::vector<ParamSpec> params() const override { return {}; }
  std::shared_ptr<Model> build(const Params&, const ModelShape& s) const override {
    return std::make_shared<BigramModel>(s.vocab_size);
  }
};
}  // namespace

REPRO_REGISTER_ARCHITECTURE(Bigram)
