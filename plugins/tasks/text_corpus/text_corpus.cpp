// Task plugin "text_corpus": causal language modelling over a tokenized text corpus on disk (README.md).
// Training, validation and held-out test splits are packed windows of whole documents of the corpus's
// train/valid/test split; with eval_file, the test split is instead an evaluation file scored lm-eval's
// way — a text (rolling windows: perplexity, word perplexity) or a PIQA / HellaSwag / Winogrande question
// file (one row per choice: multiple-choice accuracy). Every dataset of one experiment names the same
// corpus and vocabulary, so they share one tokenizer.
#include <repro/sdk.hpp>

#include <filesystem>

#include "corpus.hpp"
#include "multiple_choice.hpp"
#include "packing.hpp"
#include "tokenized_corpus.hpp"

namespace {
using namespace repro::sdk;
using namespace text_corpus;

// lm-eval's word count: len(re.split(r"\s+", text)).
int64_t words_of(const std::string& s) {
  int64_t n = 1;
  for (size_t i = 0; i < s.size(); ++i)
    if (std::isspace(static_cast<unsigned char>(s[i])) && (i == 0 || !std::isspace(static_cast<unsigned char>(s[i - 1]))))
      ++n;
  return n;
}

class TextCorpus final : public Task {
 public:
  std::string name() const override { return "text_corpus"; }
  std::string version() const override { return "1"; }
  std::string description() const override {
    return "causal language modelling over a tokenized JSONL corpus (BPE, packed documents, held-out documents); "
           "eval_file scores a text or PIQA/HellaSwag/Winogrande file lm-eval's way";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"corpus", ParamType::String, std::string("data/corpus"),
         "a .jsonl file or a directory of .jsonl files, one {\"text\": ...} document a line (relative: to the working "
         "directory)"},
        {"corpus_hash", ParamType::String, std::string(""),
         "the corpus's fingerprint (16 hex digits, printed on a mismatch); \"\" = not checked"},
        {"vocab_size", ParamType::Int, int64_t{8192}, "BPE vocabulary (SentencePiece, byte fallback)", 300, 1 << 20},
        {"seq_len", ParamType::Int, int64_t{512}, "tokens per example", 2, 1 << 20},
        {"tokenizer_bytes", ParamType::Int, int64_t{50'000'000},
         "the tokenizer trains on this many bytes of training documents (the first, in corpus order)", 1000,
         std::numeric_limits<int32_t>::max()},
        {"eval_file", ParamType::String, std::string(""),
         "a test set in its own JSONL file instead of held-out corpus documents (absent file: the test is not run)"},
        {"eval_format", ParamType::String, std::string("text"),
         "eval_file's format: text ({\"text\"} documents, rolling perplexity) or a multiple-choice benchmark",
         std::nullopt, std::nullopt, {"text", "piqa", "hellaswag", "winogrande"}},
    };
  }
  void check(const Params& p) const override {
    if (p.s("corpus").empty()) throw ParamError("corpus", "needs the corpus's path (its tokenizer is trained on it)");
    if (p.s("eval_format") != "text" && p.s("eval_file").empty())
      throw ParamError("eval_file", "eval_format = \"" + p.s("eval_format") + "\" needs the benchmark's JSONL file");
    const std::string& h = p.s("corpus_hash");
    if (!h.empty() && (h.size() != 16 || h.find_first_not_of("0123456789abcdef") != std::string::npos))
      throw ParamError("corpus_hash", "expected 16 lowercase hex digits (or \"\" to skip the check)");
  }
  int64_t vocab_size(const Params& p) const override { return p.i("vocab_size"); }
  int64_t seq_len(const Params& p) const override { return p.i("seq_len"); }

  Dataset generate(const Params& p, Split split, uint64_t seed, int64_t n) const override {
    const auto corpus =
        TokenizedCorpus::open({p.s("corpus"), p.s("corpus_hash"), p.i("vocab_size"), p.i("tokenizer_bytes")});
    const int64_t L = p.i("seq_len");
    const std::string& file = p.s("eval_file");
    if (file.empty()) return pack(*corpus, split, seed, n, L);
    if (split != Split::Test)
      throw std::invalid_argument("eval_file '" + file + "' is a test set: give it test_examples only");
    const auto& tok = corpus->tokenizer();
    const std::string& format = p.s("eval_format");
    if (format != "text") {
      auto encode = [&](const std::string& s) { return tok.encode(s); };
      return choice_rows(read_questions(file, format, n), encode, tok.eos(), L);
    }
    if (!std::filesystem::exists(file)) throw MissingInput("evaluation text '" + file + "' not found");
    std::vector<Document> docs;
    for_each_document(file, [&](std::string&& text) {
      const auto ids = tok.encode(text);
      docs.push_back({{ids.begin(), ids.end()}, words_of(text), static_cast<int64_t>(text.size())});
    });
    if (rolling_rows(docs, L) > n)
      throw std::runtime_error("evaluation text '" + file + "' makes " + std::to_string(rolling_rows(docs, L)) +
                               " windows of " + std::to_string(L) + " tokens: set test_examples >= " +
                               std::to_string(rolling_rows(docs, L)) + " (rows beyond them stay empty)");
    return rolling(docs, tok.eos(), L, n);
  }
};

}  // namespace

REPRO_REGISTER_TASK(TextCorpus)
