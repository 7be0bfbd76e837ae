// The BPE tokenizer: SentencePiece (Debian's libsentencepiece), trained by us on the corpus's training
// documents so that no held-out document shapes the vocabulary. Settings, and why:
//   byte_fallback        any UTF-8 text encodes (unknown characters become byte pieces, never <unk>);
//   identity normaliser  text is kept as is: newlines and runs of spaces survive (byte pieces), like GPT-2's BPE;
//   split_digits         numbers are spelled digit by digit;
//   one thread           the trainer's output depends only on its input lines, so every machine gets the same model.
// Ids: 0 <unk> (also padding), 1 <s> (unused), 2 </s> — the document separator (EOS).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace text_corpus {

class Tokenizer {
 public:
  // Trains a BPE model of at most vocab_size pieces on `lines` and writes it to model_path.
  static void train(const std::vector<std::string>& lines, int64_t vocab_size, const std::string& model_path);
  explicit Tokenizer(const std::string& model_path);
  ~Tokenizer();
  std::vector<int> encode(const std::string& text) const;
  int eos() const { return 2; }

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

}  // namespace text_corpus
