// Kill and resume: `repro run` is SIGKILLed at a seeded, fixed set of points (mid-file write, training
// steps, each phase of a checkpoint write, the model's publication), restarted after each kill, and must
// resume from the last complete checkpoint and end bitwise equal to an uninterrupted run.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <regex>
#include <set>

#include "cli_process.hpp"
#include "outcome.hpp"

using namespace repro;
namespace fs = std::filesystem;

namespace {

// Two cells of 32 steps (4 epochs of 8 batches): a Transformer, and a model that draws from the global
// RNG every step. Checkpoints every 3 steps and at each epoch end; metrics every 2 steps, so a
// checkpoint falls between two metrics lines and the running mean must survive the kill too.
std::string kill_spec() {
  std::string s = test::tiny_spec("epochs = 4\ncheckpoint_every = 3\nlog_every = 2\nlr = 3e-3\n");
  s.replace(s.find("[train]"), 7, "[models.noisy]\narchitecture = \"noisy\"\n\n[train]");
  s.replace(s.find("models = [\"tf\"]"), 15, "models = [\"tf\", \"noisy\"]");
  return s;
}
constexpr int64_t kSteps = 32, kStepsPerEpoch = 8, kCheckpointEvery = 3;
const char* kCells[] = {"mqar__tf__s0", "mqar__noisy__s0"};

bool checkpoint_at(int64_t s) { return s % kStepsPerEpoch == 0 || s % kCheckpointEvery == 0; }

// The last complete checkpoint once a kill at `point` (step s) lands, given the one before (r).
int64_t resume_after(const std::string& point, int64_t s, int64_t r) {
  if (point == "ckpt.prune") return s;  // LATEST already names it
  for (int64_t c = s - 1; c > r; --c)
    if (checkpoint_at(c)) return c;
  return r;
}

struct Kill {
  std::string point;
  int64_t n;
  int cell;  // whose training it interrupts (-1: before any training)
};

// The schedule, drawn once from a fixed seed: a kill mid-way through writing a dataset file, three in
// each cell's training (one per third of it, at a training step or a phase of a checkpoint write), and one
// as the first cell's model is about to be published.
std::vector<Kill> schedule(uint64_t seed) {
  uint64_t x = seed;
  auto next = [&](uint64_t n) {  // a 64-bit LCG: the same draws on every machine
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<size_t>((x >> 33) % n);
  };
  const std::vector<std::string> kinds = {"train.step", "ckpt.model", "ckpt.rename", "ckpt.latest", "ckpt.prune"};
  std::vector<Kill> out = {{"write", static_cast<int64_t>(1 + next(6)), -1}};  // writes 1-6: the three splits
  for (int cell = 0; cell < 2; ++cell) {
    int64_t r = 0;
    for (int third = 0; third < 3; ++third) {
      const std::string kind = kinds[next(kinds.size())];
      std::vector<int64_t> at;
      for (int64_t s = std::max(r + 1, third * kSteps / 3 + 1); s <= (third + 1) * kSteps / 3; ++s)
        if (kind == "train.step" || checkpoint_at(s)) at.push_back(s);
      if (at.empty()) continue;
      const int64_t s = at[next(at.size())];
      out.push_back({kind, s, cell});
      r = resume_after(kind, s, r);
    }
    if (cell == 0) out.push_back({"store.commit", 1, 0});
  }
  return out;
}

// "cell: resuming from checkpoint at step N" lines of a log, as "cell@N".
std::vector<std::string> resumes(const std::string& log) {
  std::vector<std::string> out;
  static const std::regex re(R"((\S+): resuming from checkpoint at step (\d+))");
  for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it)
    out.push_back((*it)[1].str() + "@" + (*it)[2].str());
  return out;
}

}  // namespace

TEST(KillResume, SigkillAtSeededPointsEndsBitwiseEqualToAnUninterruptedRun) {
  test::TempDir ref, killed;
  const auto plugin_path = std::vector<std::string>{"--plugin-path", REPRO_TEST_PLUGIN_DIR};
  auto args = [&](const test::TempDir& d) {
    auto a = test::pipeline_args("run", d.write("kill.toml", kill_spec()), d.path());
    a.insert(a.end(), plugin_path.begin(), plugin_path.end());
    return a;
  };
  auto r0 = test::run_cli(args(ref), ref.path() / "run.log");
  ASSERT_EQ(r0.code, 0) << r0.log;

  const auto kills = schedule(14);
  int64_t r[2] = {0, 0};  // each cell's last complete checkpoint
  bool done[2] = {false, false};
  std::vector<std::string> landed, resumed_at;
  for (size_t i = 0; i <= kills.size(); ++i) {
    // Which resumes this run must log: each unfinished cell it reaches that has a checkpoint.
    std::vector<std::string> want;
    const int reaches = i < kills.size() ? kills[i].cell : 1;
    for (int c = 0; c <= reaches; ++c)
      if (!done[c] && r[c] > 0) want.push_back(fmt::format("{}@{}", kCells[c], r[c]));
    test::CliOptions o;
    if (i < kills.size()) o.env = {fmt::format("REPRO_CRASH_AT={}:{}", kills[i].point, kills[i].n)};
    auto res = test::run_cli(args(killed), killed.path() / fmt::format("run{}.log", i), o);
    EXPECT_EQ(resumes(res.log), want) << "run " << i << "\n" << res.log;
    for (const auto& w : want) resumed_at.push_back(w);
    if (i == kills.size()) {
      ASSERT_EQ(res.code, 0) << res.log;
      break;
    }
    const Kill& k = kills[i];
    ASSERT_TRUE(res.sigkill) << k.point << ":" << k.n << " was never reached\n" << res.log;
    landed.push_back(fmt::format("{}:{}", k.point, k.n));
    for (int c = 0; c < k.cell; ++c) done[c] = true, r[c] = 0;
    if (k.cell >= 0) r[k.cell] = k.point == "store.commit" ? kSteps : resume_after(k.point, k.n, r[k.cell]);
  }
  test::expect_same(test::outcome(ref.path()), test::outcome(killed.path()), "killed and resumed vs uninterrupted");
  EXPECT_FALSE(fs::exists(killed.path() / "store" / "work" / "model") &&
               !fs::is_empty(killed.path() / "store" / "work" / "model"))
      << "checkpoints left behind after the cells completed";
  std::cout << fmt::format("reliability: kill-and-resume: {} SIGKILLs survived ({}), resumed at {}; 2 cells end "
                           "bitwise equal to an uninterrupted run (weights, curves, metrics)\n",
                           landed.size(), fmt::join(landed, " "), fmt::join(resumed_at, " "));
}
