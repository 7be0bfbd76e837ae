// Language-modelling examples from token streams, as [N, L] rows of a Dataset.
#pragma once
#include <repro/sdk.hpp>

#include <vector>

#include "tokenized_corpus.hpp"

namespace text_corpus {

// n rows of width L with nothing in them yet: padding 0, no targets, no loss, no answer tokens (these tasks are
// measured by their loss, not by accuracy), one subset named `subset`.
repro::sdk::Dataset blank_rows(int64_t n, int64_t L, const std::string& subset = "text");

// Pretraining and held-out perplexity: the split's documents in a seeded order, each followed by EOS, as one
// stream cut into n windows of L + 1 tokens overlapping by one (inputs = window[:L], targets = window[1:]),
// so every token but the first is a target exactly once. Throws when the split holds fewer than n·L + 1 tokens.
repro::sdk::Dataset pack(const TokenizedCorpus& corpus, repro::sdk::Split split, uint64_t seed, int64_t n, int64_t L);

// One scored document of an evaluation text (e.g. WikiText): its tokens, and lm-eval's word and byte counts.
struct Document {
  std::vector<int64_t> tokens;
  int64_t words = 0, bytes = 0;
};

// lm-eval's loglikelihood_rolling: each document alone, EOS as the prefix token, its tokens predicted in
// windows of L; the last window keeps a full L-token context and scores only its new tokens. Meta "words" and
// "bytes" carry each document's counts on its first window (word_perplexity, bits_per_byte). The dataset has
// n rows (n >= rolling_rows(docs, L)): the rows after the documents' windows are empty (one padding token,
// nothing scored), so a spec can give room for a file whose window count depends on the tokenizer.
repro::sdk::Dataset rolling(const std::vector<Document>& docs, int64_t eos, int64_t L, int64_t n);

// The number of rows rolling() makes of `docs` (the spec's test_examples must equal it).
int64_t rolling_rows(const std::vector<Document>& docs, int64_t L);

}  // namespace text_corpus
