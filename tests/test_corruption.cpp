// Corruption: a flipped byte or a truncated file in any cached artifact (dataset, model, checkpoint,
// result, probe matrices) is caught by its checksum on the next run that needs it, reported with its
// path, and rebuilt to what an undamaged run produces: never used.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli_process.hpp"
#include "core/manifest.hpp"
#include "outcome.hpp"

using namespace repro;
namespace fs = std::filesystem;

namespace {

void flip_byte(const fs::path& p) {
  std::string bytes = read_file(p);
  bytes.at(bytes.size() / 2) ^= 0x5a;
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}
void truncate_half(const fs::path& p) { fs::resize_file(p, fs::file_size(p) / 2); }

fs::path only_entry(const fs::path& dir) {
  std::vector<fs::path> all;
  for (const auto& e : fs::directory_iterator(dir)) all.push_back(e.path());
  if (all.size() != 1) throw std::runtime_error(fmt::format("{}: {} entries, expected 1", dir.string(), all.size()));
  return all.front();
}

// The store's dataset artifact of one split (train | valid | test).
fs::path dataset_dir(const fs::path& store, const std::string& split) {
  for (const auto& e : fs::directory_iterator(store / "dataset"))
    if (manifest_meta(e.path()).value("split", "") == split) return e.path();
  throw std::runtime_error("no " + split + " dataset in " + store.string());
}

struct Case {
  std::string what;
  std::string command;                            // the run that must catch it: train | run
  std::function<fs::path(const fs::path&)> file;  // the damaged file, from the test directory
  bool flip;                                      // else truncate
  bool names_dir;                                 // the warning names the artifact's directory, not the file
  std::string report;                             // the warning's words after that path
};

}  // namespace

TEST(Corruption, EveryDamagedArtifactIsCaughtReportedAndRebuilt) {
  test::TempDir dir;
  const fs::path spec = dir.write("s.toml", test::tiny_spec("checkpoint_every = 3\n") + "\n[probe]\nexamples = [0]\n");
  const fs::path store = dir.path() / "store";
  auto cli = [&](const std::string& cmd, const std::string& log, const test::CliOptions& o = {}) {
    return test::run_cli(test::pipeline_args(cmd, spec, dir.path()), dir.path() / log, o);
  };
  ASSERT_EQ(cli("run", "ref.log").code, 0);
  const test::Outcome want = test::outcome(dir.path());
  auto model = [&](const fs::path&) { return only_entry(store / "model"); };
  auto work = [&](const fs::path&) { return only_entry(store / "work" / "model"); };
  auto latest = [&](const fs::path& d) { return work(d) / read_file(work(d) / "LATEST"); };
  auto result = [&](const fs::path& d) { return d / "results" / "tiny" / "mqar__tf__s0.json"; };

  const std::vector<Case> cases = {
      {"train dataset", "train", [&](auto) { return dataset_dir(store, "train") / "dataset.safetensors"; }, true, true,
       ": checksum mismatch in dataset.safetensors"},
      {"test dataset", "train", [&](auto) { return dataset_dir(store, "test") / "dataset.safetensors"; }, false, true,
       ": checksum mismatch in dataset.safetensors"},
      {"model weights", "train", [&](auto d) { return model(d) / "model.pt"; }, true, true, ": checksum mismatch in model.pt"},
      {"model metrics", "train", [&](auto d) { return model(d) / "metrics.jsonl"; }, false, true,
       ": checksum mismatch in metrics.jsonl"},
      {"checkpoint weights", "train", [&](auto d) { return latest(d) / "model.pt"; }, true, true,
       ": checksum mismatch in model.pt; discarding it"},
      {"checkpoint optimizer", "train", [&](auto d) { return latest(d) / "optim.pt"; }, false, true,
       ": checksum mismatch in optim.pt; discarding it"},
      {"checkpoint manifest", "train", [&](auto d) { return latest(d) / kManifestFile; }, false, true,
       ": unreadable manifest"},
      {"result", "run", result, true, false, ": "},  // checksum mismatch, or unreadable JSON
      {"result", "run", result, false, false, ": unreadable result"},
      {"probe matrices", "run", [&](auto d) { return d / "results" / "tiny" / "mqar__tf__s0.probe.safetensors"; }, true, false,
       ": missing or checksum mismatch"},
  };
  int caught = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what + (c.flip ? " (flipped byte)" : " (truncated)"));
    if (c.what.rfind("checkpoint", 0) == 0) {
      // Checkpoints exist only mid-training: drop the model and kill its retraining after step 13.
      fs::remove_all(model(dir.path()));
      auto k = cli("train", "kill.log", {{"REPRO_CRASH_AT=train.step:13"}});
      ASSERT_TRUE(k.sigkill) << k.log;
    }
    const fs::path damaged = c.file(dir.path());
    const std::string where = (c.names_dir ? damaged.parent_path() : damaged).string() + c.report;
    c.flip ? flip_byte(damaged) : truncate_half(damaged);
    auto r = cli(c.command, "rerun.log");
    EXPECT_EQ(r.code, 0) << r.log;
    const bool reported = r.log.find("warning: ") != std::string::npos && r.log.find(where) != std::string::npos;
    EXPECT_TRUE(reported) << "expected a warning with '" << where << "'\n" << r.log;
    if (c.command == "train") ASSERT_EQ(cli("run", "run.log").code, 0);
    test::expect_same(want, test::outcome(dir.path()), "after rebuilding");
    caught += reported && !::testing::Test::HasFailure();
  }
  std::cout << fmt::format("reliability: corruption: {} of {} damaged artifacts caught by checksum, reported with "
                           "their path and rebuilt to the same bytes (datasets, models, checkpoints, results, "
                           "probe matrices; flipped bytes and truncations)\n",
                           caught, cases.size());
  EXPECT_EQ(caught, static_cast<int>(cases.size()));
}
