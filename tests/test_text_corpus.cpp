// The text_corpus task (BPE tokenizer, packing, held-out documents, lm-eval's request formats) and the
// language-model metrics (perplexity, multiple-choice accuracy), on a tiny corpus and hand-made benchmark files
// in the PIQA, HellaSwag and Winogrande formats (tests/data/text_corpus, tests/data/mc).
#include <sentencepiece_processor.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "core/fs.hpp"
#include "core/spec.hpp"
#include "stages/evaluate.hpp"
#include "stages/lm_metrics.hpp"
#include "stages/run.hpp"
#include "support.hpp"

using namespace repro;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(REPRO_TESTS_DIR) + "/data/";

// One tokenizer cache for the suite: the tokenizer trains once (well under a second on 37 KB).
class TextCorpus : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cache_ = new test::TempDir();
    ::setenv("REPRO_CACHE", cache_->path().c_str(), 1);
  }
  static void TearDownTestSuite() {
    ::unsetenv("REPRO_CACHE");
    delete cache_;
  }
  static std::map<std::string, sdk::Value> params(std::map<std::string, sdk::Value> over = {}) {
    over.emplace("corpus", kData + "text_corpus/corpus.jsonl");
    over.emplace("vocab_size", int64_t{512});
    over.emplace("seq_len", int64_t{32});
    return over;
  }
  static sdk::Dataset gen(const std::map<std::string, sdk::Value>& over, sdk::Split split, int64_t n, uint64_t seed = 0) {
    return test::generate("text_corpus", params(over), split, seed, n);
  }
  // Rows of 128 tokens: long enough that no request is cut from the left (the tokenizer has only 512 pieces).
  static sdk::Dataset mc(const std::string& format, int64_t questions) {
    return gen({{"eval_file", kData + "mc/" + format + ".jsonl"}, {"eval_format", format}, {"seq_len", int64_t{128}}},
               sdk::Split::Test, questions);
  }
  // The tokenizer the task trained (the only one in this suite's cache).
  static const sentencepiece::SentencePieceProcessor& sp() {
    static sentencepiece::SentencePieceProcessor p;
    static bool loaded = false;
    for (const auto& e : fs::recursive_directory_iterator(cache_->path()))
      if (!loaded && e.path().filename() == "tokenizer.model") loaded = p.Load(e.path().string()).ok();
    EXPECT_TRUE(loaded);
    return p;
  }
  static std::string decode(const std::vector<int64_t>& ids) {
    std::string s;
    EXPECT_TRUE(sp().Decode(std::vector<int>(ids.begin(), ids.end()), &s).ok());
    return s;
  }
  // Row r's tokens after the leading EOS (inputs then the last target) and its scored targets.
  static std::pair<std::vector<int64_t>, std::vector<int64_t>> row(const sdk::Dataset& d, int64_t r) {
    const int64_t len = d.meta.at("length")[r].item<int64_t>();
    std::vector<int64_t> all, scored;
    for (int64_t p = 1; p < len; ++p) all.push_back(d.inputs[r][p].item<int64_t>());
    all.push_back(d.targets[r][len - 1].item<int64_t>());
    for (int64_t p = 0; p < len; ++p)
      if (d.loss_mask[r][p].item<bool>()) scored.push_back(d.targets[r][p].item<int64_t>());
    return {all, scored};
  }
  static std::vector<int64_t> ints(const torch::Tensor& t) {
    auto c = t.contiguous();
    return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
  }
  static test::TempDir* cache_;
};
test::TempDir* TextCorpus::cache_ = nullptr;

constexpr int64_t kEos = 2;

}  // namespace

TEST_F(TextCorpus, PacksWholeDocumentsOfTheirOwnSplit) {
  // Each split's documents, by the SDK's hash of their bytes, tokenized here independently of the task.
  std::map<sdk::Split, std::set<std::vector<int64_t>>> docs;
  gen({}, sdk::Split::Test, 1);  // trains the tokenizer before the first sp()
  std::ifstream in(kData + "text_corpus/corpus.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto text = nlohmann::json::parse(line)["text"].get<std::string>();
    sdk::SplitHash h;
    for (unsigned char c : text) h.add(c);
    std::vector<int> ids;
    ASSERT_TRUE(sp().Encode(text, &ids).ok());
    docs[h.split()].insert({ids.begin(), ids.end()});
  }
  ASSERT_FALSE(docs[sdk::Split::Test].empty());
  for (auto split : {sdk::Split::Train, sdk::Split::Valid, sdk::Split::Test}) {
    SCOPED_TRACE(sdk::split_name(split));
    const int64_t n = split == sdk::Split::Train ? 64 : 4;
    auto d = gen({}, split, n);
    ASSERT_EQ(d.inputs.sizes(), (std::vector<int64_t>{n, 32}));
    EXPECT_TRUE(d.loss_mask.all().item<bool>());
    EXPECT_TRUE((d.answer_group == -1).all().item<bool>());
    // Windows overlap by one token: targets are the inputs shifted, across rows too.
    EXPECT_TRUE(d.targets.narrow(1, 0, 31).equal(d.inputs.narrow(1, 1, 31)));
    EXPECT_TRUE(d.targets.narrow(0, 0, n - 1).select(1, 31).equal(d.inputs.narrow(0, 1, n - 1).select(1, 0)));
    // The stream, cut at EOS: every complete piece is a whole document of this split.
    std::vector<int64_t> stream = ints(d.inputs);
    stream.push_back(d.targets[n - 1][31].item<int64_t>());
    std::vector<int64_t> piece;
    int complete = 0;
    bool first = true;  // the stream starts at a document's start: its first piece is complete too
    for (int64_t t : stream) {
      if (t != kEos) {
        piece.push_back(t);
        continue;
      }
      EXPECT_TRUE(docs[split].count(piece)) << "a packed document is not a " << sdk::split_name(split) << " document";
      complete += first || !piece.empty();
      first = false;
      piece.clear();
    }
    EXPECT_GE(complete, split == sdk::Split::Train ? 10 : 1);
    EXPECT_TRUE(gen({}, split, n).inputs.equal(d.inputs)) << "not deterministic";
  }
  EXPECT_FALSE(gen({}, sdk::Split::Train, 64, 1).inputs.equal(gen({}, sdk::Split::Train, 64, 0).inputs))
      << "the data seed does not change the document order";
}

TEST_F(TextCorpus, RefusesMoreWindowsThanTheSplitHoldsAndAnotherCorpus) {
  try {
    gen({}, sdk::Split::Test, 100000);
    ADD_FAILURE() << "accepted 100,000 windows of a 37 KB corpus";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("fewer than the 100000 asked for"), std::string::npos) << e.what();
  }
  try {
    gen({{"corpus_hash", std::string("0123456789abcdef")}}, sdk::Split::Test, 1);
    ADD_FAILURE() << "accepted a corpus whose fingerprint differs from corpus_hash";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("but the spec's corpus_hash is 0123456789abcdef"), std::string::npos) << e.what();
  }
}

TEST_F(TextCorpus, PiqaRequestsAreLmEvals) {
  auto d = mc("piqa", 3);
  ASSERT_EQ(d.inputs.size(0), 6);
  EXPECT_EQ(d.subset_names, (std::vector<std::string>{"choice0", "choice1"}));
  EXPECT_EQ(ints(d.meta.at("mc_question")), (std::vector<int64_t>{0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(ints(d.meta.at("mc_label")), (std::vector<int64_t>{0, 0, 1, 1, 0, 0}));
  // acc_norm divides by the solution's length in characters (without the delimiter space).
  EXPECT_EQ(ints(d.meta.at("mc_chars")), (std::vector<int64_t>{28, 19, 21, 32, 26, 43}));
  EXPECT_TRUE((d.inputs.select(1, 0) == kEos).all().item<bool>()) << "rows start with the document separator";
  auto [all, scored] = row(d, 0);
  EXPECT_EQ(decode(all), "Question: How do you keep a boat from drifting away?\nAnswer: Tie the long rope to a post.");
  EXPECT_EQ(decode(scored), "Tie the long rope to a post.");
  auto [all3, scored3] = row(d, 3);
  EXPECT_EQ(decode(all3), "Question: To warm up on a cold morning,\nAnswer: wrap yourself in a warm blanket.");
  EXPECT_EQ(decode(scored3), "wrap yourself in a warm blanket.");
}

TEST_F(TextCorpus, HellaswagIsPreprocessedAsLmEval) {
  auto d = mc("hellaswag", 2);
  ASSERT_EQ(d.inputs.size(0), 8);
  EXPECT_EQ(ints(d.meta.at("mc_label")), (std::vector<int64_t>{0, 0, 0, 0, 0, 0, 0, 0}));
  // "[step]" dropped and the double space it leaves closed; "  " in an ending closed too.
  EXPECT_EQ(decode(row(d, 0).first), "Sailing: The old sailor carried the long rope to the river. He tied the red boat to a post.");
  EXPECT_EQ(decode(row(d, 2).second), "painted the garden gate.");
  EXPECT_EQ(d.meta.at("mc_chars")[0].item<int64_t>(), 28);
  // ctx_a + " " + ctx_b.capitalize(); " [title]" becomes ". ".
  EXPECT_EQ(decode(row(d, 4).first),
            "Home. Cleaning a chair: A tired doctor cleaned a wooden chair. Then she sold it at the market.");
}

TEST_F(TextCorpus, WinograndeScoresTheSuffixAfterEachFilledInOption) {
  auto d = mc("winogrande", 2);
  ASSERT_EQ(d.inputs.size(0), 4);
  EXPECT_EQ(ints(d.meta.at("mc_label")), (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(decode(row(d, 1).first), "The box did not fit into the boat because the boat was too large.");
  EXPECT_EQ(row(d, 0).second, row(d, 1).second) << "both options score the same continuation";
  EXPECT_EQ(decode(row(d, 0).second), "was too large.");
  EXPECT_EQ(d.meta.at("mc_chars")[0].item<int64_t>(),
            static_cast<int64_t>(std::string("The box did not fit into the boat because the box").size()));
}

TEST_F(TextCorpus, AbsentBenchmarkFileIsAMissingInput) {
  EXPECT_THROW(gen({{"eval_file", kData + "mc/absent.jsonl"}, {"eval_format", std::string("piqa")}}, sdk::Split::Test, 1),
               sdk::MissingInput);
  EXPECT_THROW(gen({{"eval_file", kData + "mc/absent.jsonl"}}, sdk::Split::Test, 1), sdk::MissingInput);
}

TEST_F(TextCorpus, RollingWindowsScoreEveryTokenOnceWithFullContext) {
  auto d = gen({{"eval_file", kData + "text_corpus/eval.jsonl"}}, sdk::Split::Test, 12);
  std::vector<int64_t> tokens;
  int64_t bytes = 0;
  std::ifstream in(kData + "text_corpus/eval.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto text = nlohmann::json::parse(line)["text"].get<std::string>();
    std::vector<int> ids;
    ASSERT_TRUE(sp().Encode(text, &ids).ok());
    tokens.push_back(static_cast<int64_t>(ids.size()));
    bytes += static_cast<int64_t>(text.size());
  }
  ASSERT_GT(tokens[0], 32) << "the first document should need more than one window";
  EXPECT_EQ(d.loss_mask.sum().item<int64_t>(), tokens[0] + tokens[1] + tokens[2]);
  // len(re.split(r"\s+", doc)): 3 x 19 words + the empty string after the trailing space, 6, 19.
  EXPECT_EQ(d.meta.at("words").sum().item<int64_t>(), 58 + 6 + 19);
  EXPECT_EQ(d.meta.at("bytes").sum().item<int64_t>(), bytes);
  // Document 2 starts at the first row after document 1's windows; document 1's last window keeps a full context.
  const int64_t second = (tokens[0] + 31) / 32;
  EXPECT_GT(d.meta.at("words")[second].item<int64_t>(), 0);
  EXPECT_EQ(d.meta.at("length")[second - 1].item<int64_t>(), 32);
  EXPECT_EQ(d.loss_mask.narrow(0, 0, second).sum().item<int64_t>(), tokens[0]);
  EXPECT_EQ(d.inputs[0][0].item<int64_t>(), kEos);
  EXPECT_FALSE(d.loss_mask[11].any().item<bool>()) << "rows past the windows are empty";
}

TEST(LmMetrics, MultipleChoiceAccuracyAndPerplexityByHand) {
  // Two questions of three choices. q0 (label 1): log-likelihoods -5, -6, -9 pick choice 0 (wrong); per character
  // (10, 20, 30) -0.5, -0.3, -0.3 pick choice 1, the first of the tie (right). q1 (label 2): -4, -3, -2 pick 2;
  // per character (1, 1, 10) -4, -3, -0.2 pick 2 (both right). So acc 1/2, acc_norm 2/2.
  sdk::Dataset d;
  d.inputs = torch::zeros({6, 4}, torch::kInt64);
  d.loss_mask = torch::ones({6, 4}, torch::kBool);
  d.answer_group = torch::full({6, 4}, -1, torch::kInt64);
  d.meta["mc_question"] = torch::tensor({0, 0, 0, 1, 1, 1}, torch::kInt64);
  d.meta["mc_label"] = torch::tensor({1, 1, 1, 2, 2, 2}, torch::kInt64);
  d.meta["mc_chars"] = torch::tensor({10, 20, 30, 1, 1, 10}, torch::kInt64);
  auto m = lm_metrics(d, torch::tensor({5.0, 6.0, 9.0, 4.0, 3.0, 2.0}, torch::kFloat64));
  EXPECT_DOUBLE_EQ(m["mc_accuracy"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(m["mc_accuracy_norm"].get<double>(), 1.0);
  EXPECT_EQ(m["mc_questions"].get<int64_t>(), 2);

  // Language modelling: 6 scored tokens at ln 3 nats each -> perplexity 3; 2 words -> 3^3; 4 bytes.
  sdk::Dataset lm;
  lm.inputs = torch::zeros({2, 3}, torch::kInt64);
  lm.loss_mask = torch::ones({2, 3}, torch::kBool);
  lm.answer_group = torch::full({2, 3}, -1, torch::kInt64);
  lm.meta["words"] = torch::tensor({2, 0}, torch::kInt64);
  lm.meta["bytes"] = torch::tensor({4, 0}, torch::kInt64);
  auto p = lm_metrics(lm, torch::tensor({3 * std::log(3.0), 3 * std::log(3.0)}, torch::kFloat64));
  EXPECT_NEAR(p["perplexity"].get<double>(), 3.0, 1e-12);
  EXPECT_NEAR(p["word_perplexity"].get<double>(), 27.0, 1e-9);
  EXPECT_NEAR(p["bits_per_byte"].get<double>(), 6 * std::log(3.0) / std::log(2.0) / 4, 1e-12);

  lm.answer_group[0][1] = 0;  // a task with scored answers (MQAR) is measured by accuracy instead
  EXPECT_TRUE(lm_metrics(lm, torch::zeros({2}, torch::kFloat64)).empty());
}

namespace {
// Logits that ignore the input: log p(v) = w[v] - logsumexp(w), so every log-likelihood is known in advance.
struct Unigram : sdk::Model {
  torch::Tensor w = torch::tensor({0.0, 1.0, 2.0, -1.0, 0.5});
  torch::Tensor forward(const torch::Tensor& tokens) override {
    return w.expand({tokens.size(0), tokens.size(1), w.size(0)}).clone();
  }
};
}  // namespace

TEST(LmMetrics, EvaluateSumsEachExamplesLogLikelihood) {
  sdk::Dataset d;
  d.inputs = torch::zeros({3, 4}, torch::kInt64);
  d.targets = torch::tensor({{1, 2, 3, 4}, {0, 1, 0, 0}, {4, 4, 2, 0}}, torch::kInt64);
  d.loss_mask = torch::tensor({{0, 1, 1, 0}, {1, 1, 0, 0}, {1, 0, 1, 0}}, torch::kBool);
  d.answer_group = torch::full({3, 4}, -1, torch::kInt64);
  d.subset = torch::zeros({3}, torch::kInt64);
  d.subset_names = {"all"};
  d.meta["length"] = torch::tensor({4, 2, 3}, torch::kInt64);
  Unigram model;
  auto ev = evaluate(model, d, torch::kCPU, /*batch=*/2, /*autocast=*/false);
  const double lse = std::log(1 + std::exp(1.0) + std::exp(2.0) + std::exp(-1.0) + std::exp(0.5));
  const double w[] = {0.0, 1.0, 2.0, -1.0, 0.5};
  const double expect[] = {2 * lse - w[2] - w[3], 2 * lse - w[0] - w[1], 2 * lse - w[4] - w[2]};
  for (int r = 0; r < 3; ++r) EXPECT_NEAR(ev.row_nll[r].item<double>(), expect[r], 1e-5) << "row " << r;
  EXPECT_NEAR(ev.loss, (expect[0] + expect[1] + expect[2]) / 6, 1e-5);
}

TEST_F(TextCorpus, PipelineScoresHeldOutTextAndBenchmarksAndReportsAMissingOneAsNotRun) {
  test::TempDir dir;
  const std::string corpus = "corpus = \"" + kData + "text_corpus/corpus.jsonl\", vocab_size = 512, seq_len = 32";
  const std::string text = R"([experiment]
name = "lm"
[datasets.text]
task = "text_corpus"
train_examples = 64
valid_examples = 4
test_examples = 8
params = { )" + corpus + R"( }
[datasets.piqa]
task = "text_corpus"
test_examples = 3
params = { )" + corpus + ", eval_file = \"" + kData + R"(mc/piqa.jsonl", eval_format = "piqa" }
[datasets.hellaswag]
task = "text_corpus"
test_examples = 10
params = { )" + corpus + R"(, eval_file = "absent/hellaswag.jsonl", eval_format = "hellaswag" }
[models.tf]
architecture = "transformer"
config = { d_model = 32, n_layers = 1, n_heads = 2 }
[train]
epochs = 2
batch_size = 16
lr = 3e-3
[grid]
train = ["text"]
test = ["text", "piqa", "hellaswag"]
models = ["tf"]
[[report.tables]]
id = "lm"
rows = "model"
cols = [{ id = "ppl", label = "Held-out ppl", test = "text", metric = "perplexity" },
        { id = "piqa", label = "PIQA", test = "piqa", metric = "mc_accuracy" },
        { id = "hella", label = "HellaSwag", test = "hellaswag", metric = "mc_accuracy_norm" }]
)";
  auto spec = load_spec(dir.write("lm.toml", text).string(), test::plugins());
  const RunOptions o = test::cpu_options(dir);
  ASSERT_EQ(run_spec(spec, test::plugins(), o), 0);
  auto r = nlohmann::json::parse(read_file(dir.path() / "results" / "lm" / "text__tf__s0.json"));
  const double ppl = r["tests"]["text"]["perplexity"].get<double>();
  EXPECT_GT(ppl, 1.0);
  EXPECT_LT(ppl, 512.0) << "no better than uniform over the vocabulary after training";
  EXPECT_EQ(r["tests"]["piqa"]["mc_questions"].get<int64_t>(), 3);
  EXPECT_FALSE(r["tests"].contains("hellaswag"));
  EXPECT_NE(r["not_run_tests"]["hellaswag"].get<std::string>().find("not found"), std::string::npos);
  const std::string md = read_file(dir.path() / "reports" / "lm.md");
  EXPECT_NE(md.find("| not run |"), std::string::npos) << md;
  // While the model is in the store, the cell is probed again (a benchmark file may have appeared since).
  const auto cells = plan_cells(spec, test::plugins());
  EXPECT_EQ(stale_cells(cells, spec, o).size(), 1u);
  fs::remove_all(dir.path() / "store");
  EXPECT_TRUE(stale_cells(cells, spec, o).empty()) << "without its model, the result stands (nothing retrains)";
}
