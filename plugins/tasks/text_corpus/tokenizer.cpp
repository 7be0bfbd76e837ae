#include "tokenizer.hpp"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <stdexcept>
#include <unordered_map>

namespace text_corpus {
namespace {

class Lines final : public sentencepiece::SentenceIterator {
 public:
  explicit Lines(const std::vector<std::string>& v) : v_(v) {}
  bool done() const override { return i_ >= v_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return v_[i_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& v_;
  size_t i_ = 0;
};

void ok(const sentencepiece::util::Status& s, const std::string& what) {
  if (!s.ok()) throw std::runtime_error("sentencepiece: " + what + ": " + s.ToString());
}

}  // namespace

void Tokenizer::train(const std::vector<std::string>& lines, int64_t vocab_size, const std::string& model_path) {
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(vocab_size)},
      {"hard_vocab_limit", "false"},  // a small corpus may support fewer pieces; ids stay < vocab_size
      {"character_coverage", "1.0"},
      {"byte_fallback", "true"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"allow_whitespace_only_pieces", "true"},
      {"split_digits", "true"},
      {"max_sentence_length", "16384"},
      {"input_sentence_size", "0"},  // every line we pass: we chose them deterministically
      {"shuffle_input_sentence", "false"},
      {"num_threads", "1"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "-1"},
      {"minloglevel", "2"},
  };
  Lines it(lines);
  std::string proto;
  ok(sentencepiece::SentencePieceTrainer::Train(args, &it, &proto), "training");
  sentencepiece::SentencePieceProcessor check;
  ok(check.LoadFromSerializedProto(proto), "reading the trained model");
  FILE* f = std::fopen(model_path.c_str(), "wb");
  if (!f || std::fwrite(proto.data(), 1, proto.size(), f) != proto.size() || std::fclose(f) != 0)
    throw std::runtime_error("cannot write " + model_path);
}

Tokenizer::Tokenizer(const std::string& model_path) : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  ok(sp_->Load(model_path), "loading " + model_path);
}

Tokenizer::~Tokenizer() = default;

std::vector<int> Tokenizer::encode(const std::string& text) const {
  std::vector<int> ids;
  ok(sp_->Encode(text, &ids), "encoding");
  return ids;
}

}  // namespace text_corpus
