// The tokenized corpus: built once per (corpus content, tokenizer settings) into a cache directory, then
// memory-mapped, so a split reads only the documents it packs. The directory
// ($REPRO_CACHE, default .repro/cache, then text_corpus/<fingerprint>-bpe<V>-t<bytes>-f<format>/) holds
//   tokenizer.model  the BPE model trained on the first `tokenizer_bytes` of training documents;
//   tokens.bin       every document's token ids back to back (uint16, or uint32 when V > 65,536);
//   docs.bin         uint64 offset of each document's first token, then the total;
//   splits.bin       one byte per document: 0 train, 1 valid, 2 test, from a hash of the document's bytes
//                    (sdk::SplitHash: 14/16, 1/16, 1/16), so held-out text is whole documents on every machine;
//   info.json        counts (documents, bytes, tokens per split) for the README and the log.
// It is written in a temporary directory and renamed into place: a killed build leaves nothing half-made.
#pragma once
#include <repro/sdk.hpp>

#include <memory>
#include <string>
#include <vector>

#include "tokenizer.hpp"

namespace text_corpus {

struct CorpusSpec {
  std::string path;           // a .jsonl file or a directory of them
  std::string expected_hash;  // the spec's corpus_hash ("" = not checked)
  int64_t vocab_size = 0, tokenizer_bytes = 0;
};

class TokenizedCorpus {
 public:
  // Opens the cache for `spec`, building it first when absent (minutes for a large corpus). Throws when the
  // corpus's fingerprint differs from spec.expected_hash, naming both.
  static std::shared_ptr<const TokenizedCorpus> open(const CorpusSpec& spec);
  ~TokenizedCorpus();

  const Tokenizer& tokenizer() const { return *tokenizer_; }
  int64_t documents() const { return static_cast<int64_t>(splits_.size()); }
  repro::sdk::Split split_of(int64_t doc) const;
  int64_t length(int64_t doc) const { return static_cast<int64_t>(offsets_[doc + 1] - offsets_[doc]); }
  // Appends document `doc`'s token ids to `out`.
  void append(int64_t doc, std::vector<int64_t>& out) const;

 private:
  TokenizedCorpus() = default;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::vector<uint64_t> offsets_;
  std::vector<uint8_t> splits_;
  const void* tokens_ = nullptr;  // the mapped tokens.bin
  size_t mapped_bytes_ = 0;
  int width_ = 2;  // bytes per token id
};

}  // namespace text_corpus
