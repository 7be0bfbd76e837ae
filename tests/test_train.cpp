// Training end to end through the stages (no CLI): loss falls, results are cached, resume works.
#include <fstream>

#include "core/fs.hpp"
#include "core/manifest.hpp"
#include "core/spec.hpp"
#include "stages/run.hpp"
#include "stages/train.hpp"
#include "support.hpp"

using namespace repro;
namespace fs = std::filesystem;

namespace {
std::vector<double> losses(const fs::path& result) {
  auto r = nlohmann::json::parse(read_file(result));
  std::vector<double> out;
  for (const auto& p : r["curve"])
    if (p.contains("train_loss")) out.push_back(p["train_loss"].get<double>());
  return out;
}
RunOptions options(const test::TempDir& dir) { return test::cpu_options(dir); }

// Trains the tiny spec with `train` as its [train] table; returns its one result and whether its model key is that
// of the same spec with `train` less `extra` (a setting that changes what is trained must change the key).
std::pair<nlohmann::json, bool> train_tiny(const test::TempDir& dir, const std::string& train, const std::string& extra) {
  auto spec = load_spec(dir.write("s.toml", test::tiny_spec(train + extra)).string(), test::plugins());
  const auto without = load_spec(dir.write("u.toml", test::tiny_spec(train)).string(), test::plugins());
  const bool same_key = plan_cells(spec, test::plugins())[0].model_key == plan_cells(without, test::plugins())[0].model_key;
  EXPECT_EQ(run_spec(spec, test::plugins(), options(dir)), 0);
  return {nlohmann::json::parse(read_file(dir.path() / "results" / "tiny" / "mqar__tf__s0.json")), same_key};
}
}  // namespace

TEST(Train, LossFallsAndSecondRunIsCached) {
  test::TempDir dir;
  auto spec = load_spec(dir.write("s.toml", test::tiny_spec("epochs = 6\nlr = 3e-3\nlog_every = 4\n")).string(),
                        test::plugins());
  auto o = options(dir);
  ASSERT_EQ(run_spec(spec, test::plugins(), o), 0);
  const fs::path result = dir.path() / "results" / "tiny" / "mqar__tf__s0.json";
  auto l = losses(result);
  ASSERT_GE(l.size(), 4u);
  EXPECT_LT(l.back(), 0.8 * l.front()) << "training loss did not fall: " << l.front() << " -> " << l.back();
  auto before = fs::last_write_time(result);
  ASSERT_EQ(run_spec(spec, test::plugins(), o), 0);
  EXPECT_EQ(fs::last_write_time(result), before) << "a fresh cell was recomputed";
  EXPECT_TRUE(fs::exists(dir.path() / "reports" / "tiny.md"));
}

TEST(Train, NonFiniteLossStopsTheCellAndPublishesNothing) {
  // The test plugin "explode" makes the loss NaN or +Inf from its 7th training step; a checkpoint is due every 4.
  PluginRegistry reg({REPRO_TEST_PLUGIN_DIR, REPRO_BUILD_PLUGIN_DIR});
  int stopped = 0;
  for (const std::string loss : {"nan", "inf"}) {
    SCOPED_TRACE(loss);
    test::TempDir dir;
    std::string text = test::tiny_spec("checkpoint_every = 4\n");
    text.replace(text.find("architecture = \"transformer\""), 28, "architecture = \"explode\"");
    text.replace(text.find("config = { d_model = 32, n_layers = 1, n_heads = 2 }"), 52,
                 "config = { nan_at = 7, loss = \"" + loss + "\" }");
    auto spec = load_spec(dir.write("s.toml", text).string(), reg);
    testing::internal::CaptureStderr();
    EXPECT_EQ(run_spec(spec, reg, options(dir)), 1);
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("non-finite loss (" + loss + ") at step 7 (epoch 1)"), std::string::npos) << err;
    EXPECT_FALSE(fs::exists(dir.path() / "results" / "tiny" / "mqar__tf__s0.json"));
    EXPECT_FALSE(fs::exists(dir.path() / "store" / "model")) << "a failed cell must not be marked complete";
    // The last good checkpoint (step 4) is kept, intact, and a rerun resumes from it.
    bool kept = false;
    for (const auto& e : fs::recursive_directory_iterator(dir.path() / "store" / "work"))
      kept |= e.path().filename() == "ckpt-000000004" && verify_manifest(e.path()).empty();
    EXPECT_TRUE(kept);
    testing::internal::CaptureStderr();
    EXPECT_EQ(run_spec(spec, reg, options(dir)), 1);
    const std::string again = testing::internal::GetCapturedStderr();
    EXPECT_NE(again.find("resuming from checkpoint at step 4"), std::string::npos) << again;
    stopped += kept && err.find("at step 7") != std::string::npos;
  }
  std::cout << "reliability: numerics: " << stopped << " of 2 non-finite losses (NaN, +Inf) stopped the cell naming "
            << "step 7, nothing published, the step-4 checkpoint kept and resumable\n";
}

TEST(Train, ResumeFromCheckpointGivesTheSameWeights) {
  // Run A trains uninterrupted. Run B dies at step 10 (REPRO_STOP_AFTER_STEP: the stage throws as if
  // killed, after its step-8 checkpoint), then resumes; its final weights must equal A's bit for bit.
  test::TempDir a, b;
  const std::string extra = "epochs = 3\ncheckpoint_every = 4\n";
  auto spec_a = load_spec(a.write("s.toml", test::tiny_spec(extra)).string(), test::plugins());
  auto spec_b = load_spec(b.write("s.toml", test::tiny_spec(extra)).string(), test::plugins());
  auto oa = options(a), ob = options(b);
  oa.until = ob.until = Until::Train;
  ASSERT_EQ(run_spec(spec_a, test::plugins(), oa), 0);
  setenv("REPRO_STOP_AFTER_STEP", "10", 1);
  EXPECT_EQ(run_spec(spec_b, test::plugins(), ob), 1);
  unsetenv("REPRO_STOP_AFTER_STEP");
  EXPECT_FALSE(fs::exists(b.path() / "store" / "model")) << "an interrupted cell must not be marked complete";
  ASSERT_EQ(run_spec(spec_b, test::plugins(), ob), 0);

  auto weights = [&](const fs::path& store) {
    std::map<std::string, torch::Tensor> out;
    for (const auto& e : fs::directory_iterator(store / "model")) {
      auto model = build_seeded_model(test::plugins(), spec_a.models.at("tf"), {32, 16}, 123);
      torch::serialize::InputArchive ar;
      ar.load_from((e.path() / "model.pt").string());
      model->load(ar);
      for (const auto& p : model->named_parameters()) out[p.key()] = p.value().clone();
      auto meta = nlohmann::json::parse(read_file(e.path() / "train.json"));
      out["__resumed"] = torch::tensor(meta["resumed_from_step"].is_null() ? -1 : meta["resumed_from_step"].get<int>());
      // The total wall time includes the killed process's (up to its checkpoint).
      out["__earlier_wall"] = torch::tensor(meta["wall_seconds_total"].get<double>() - meta["wall_seconds"].get<double>());
    }
    return out;
  };
  auto wa = weights(a.path() / "store"), wb = weights(b.path() / "store");
  EXPECT_EQ(wa["__resumed"].item<int>(), -1);
  EXPECT_EQ(wb["__resumed"].item<int>(), 8);
  EXPECT_EQ(wa["__earlier_wall"].item<double>(), 0.0);
  EXPECT_GT(wb["__earlier_wall"].item<double>(), 0.0);
  wa.erase("__resumed"), wb.erase("__resumed"), wa.erase("__earlier_wall"), wb.erase("__earlier_wall");
  ASSERT_EQ(wa.size(), wb.size());
  ASSERT_GT(wa.size(), 4u);
  for (const auto& [k, t] : wa) EXPECT_TRUE(torch::equal(t, wb.at(k))) << k;
}

TEST(Train, OnlyRunsTheCellsItsGlobsMatch) {
  test::TempDir dir;
  std::string text = test::tiny_spec("epochs = 1\n");
  text.replace(text.find("seeds = [0]"), 11, "seeds = [0, 1, 2]");
  auto spec = load_spec(dir.write("s.toml", text).string(), test::plugins());
  auto o = options(dir);
  o.until = Until::Train;
  o.only = {"nothing*"};
  EXPECT_THROW(run_spec(spec, test::plugins(), o), UserError) << "a glob that matches no cell is a mistake";
  o.only = {"*__s1", "mqar__tf__s2"};
  ASSERT_EQ(run_spec(spec, test::plugins(), o), 0);
  size_t trained = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path() / "store" / "model")) ++trained;
  EXPECT_EQ(trained, 2u);
}

// [train] track: each epoch's line of the curve scores the tracked test sets; the last one is the final model's.
TEST(Train, TrackedTestSetsAreScoredEveryEpoch) {
  test::TempDir dir;
  const auto [r, same_key] = train_tiny(dir, "epochs = 3\nlr = 3e-3\n", "track = [\"mqar\"]\n");
  EXPECT_FALSE(same_key) << "a model trained without tracking has no such curve: it must not be reused";
  std::vector<double> acc;
  for (const auto& p : r["curve"])
    if (p.contains("track.mqar.query_accuracy")) {
      acc.push_back(p["track.mqar.query_accuracy"].get<double>());
      EXPECT_TRUE(p.contains("track.mqar.loss") && p.contains("track.mqar.example_accuracy")) << p.dump();
    }
  ASSERT_EQ(acc.size(), 3u);
  // The probe scores the same final model on the same test split (other batch sizes: allow rounding).
  EXPECT_NEAR(acc.back(), r["tests"]["mqar"]["query_accuracy"].get<double>(), 0.02);
  EXPECT_FALSE(r["training"].contains("train_set")) << "scored without [train] score_train";
}

// [train] score_train: the finished model scores its own training set once (train.json's train_set, the papers'
// "train" accuracy), and the model key stays that of the same training without it.
TEST(Train, ScoreTrainScoresTheTrainingSet) {
  test::TempDir dir;
  const auto [r, same_key] = train_tiny(dir, "epochs = 2\nlr = 3e-3\n", "score_train = true\n");
  EXPECT_TRUE(same_key) << "scoring the training set does not change what is trained";
  ASSERT_TRUE(r["training"].contains("train_set")) << r["training"].dump();
  const auto& ts = r["training"]["train_set"];
  EXPECT_EQ(ts["examples"], r["training"]["train_examples"]) << "the training set, not a test set";
  EXPECT_NE(ts["examples"], r["tests"]["mqar"]["examples"]) << "the fixture's sets must differ in size";
  for (const char* k : {"example_accuracy", "query_accuracy", "token_accuracy"}) {
    EXPECT_GE(ts[k].get<double>(), 0.0) << k;
    EXPECT_LE(ts[k].get<double>(), 1.0) << k;
  }
  EXPECT_GT(ts["loss"].get<double>(), 0.0);
}
