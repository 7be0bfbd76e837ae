// Data-parallel training through the CLI: two local processes with Gloo train one cell and must end
// with the parameters of a single-process run with the same global batch.
#include <cstdlib>

#include "core/distributed.hpp"
#include "core/fs.hpp"
#include "core/process.hpp"
#include "support.hpp"

using namespace repro;
namespace fs = std::filesystem;

namespace {
const std::string kCell = "std__tf__s0";

// Runs the CLI; returns its exit status.
int repro_cli(const test::TempDir& dir, const std::string& args, const std::string& log) {
  const std::string cmd = "cd '" + dir.path().string() + "' && '" REPRO_BINARY "' " + args + " >'" + log + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string text(const test::TempDir& dir, const std::string& log) { return read_file(dir.path() / log); }

void collect(torch::serialize::InputArchive& ar, const std::string& prefix, std::map<std::string, torch::Tensor>& out) {
  for (const auto& k : ar.keys()) {
    torch::Tensor t;
    torch::serialize::InputArchive sub;
    if (ar.try_read(k, t)) out[prefix + k] = t;
    else if (ar.try_read(k, sub)) collect(sub, prefix + k + ".", out);
  }
}

// The one model artifact in `store`: name -> tensor, read from model.pt without building the model.
std::map<std::string, torch::Tensor> model_tensors(const fs::path& store) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& e : fs::directory_iterator(store / "model")) {
    torch::serialize::InputArchive ar;
    ar.load_from((e.path() / "model.pt").string());
    collect(ar, "", out);
  }
  return out;
}

// max |a - b| / (1 + max |a|) over every tensor.
double max_relative_difference(const std::map<std::string, torch::Tensor>& a,
                               const std::map<std::string, torch::Tensor>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (const auto& [k, t] : a) {
    if (!b.count(k)) {
      ADD_FAILURE() << "missing " << k;
      continue;
    }
    const double diff = (t.to(torch::kFloat64) - b.at(k).to(torch::kFloat64)).abs().max().item<double>();
    worst = std::max(worst, diff / (1 + t.abs().max().item<double>()));
  }
  return worst;
}

// Relative tolerance: the two runs differ only in the order of float32 sums (each rank sums its half of
// the batch; Gloo adds the halves), amplified a little by AdamW over 16 steps.
constexpr double kTolerance = 1e-5;
}  // namespace

TEST(DataParallel, ShardsCoverTheBatchOnce) {
  for (int64_t n : {0, 1, 5, 16, 17})
    for (int world : {1, 2, 3, 4}) {
      int64_t next = 0;
      for (int r = 0; r < world; ++r) {
        auto [lo, hi] = shard_rows(n, r, world);
        EXPECT_EQ(lo, next) << n << " rows, rank " << r << " of " << world;
        EXPECT_LE(hi - lo, n / world + 1);
        EXPECT_GE(hi - lo, n / world);
        next = hi;
      }
      EXPECT_EQ(next, n);
    }
}

TEST(DataParallel, GlooTwoRanksEqualSingleProcessWithTheSameGlobalBatch) {
  test::TempDir dir;
  fs::copy_file(fs::path(REPRO_TESTS_DIR) / "data" / "sweep.toml", dir.path() / "spec.toml");
  // batch_size 16 with two ranks: 8 rows each. The single-process run trains the same 16-row batches.
  ASSERT_EQ(repro_cli(dir, "train spec.toml --cell " + kCell + " --gpus 0,0 --store ddp", "ddp.log"), 0)
      << text(dir, "ddp.log");
  EXPECT_NE(text(dir, "ddp.log").find("data-parallel over 2 ranks (Gloo"), std::string::npos) << text(dir, "ddp.log");
  ASSERT_EQ(repro_cli(dir, "train spec.toml --cell " + kCell + " --store single", "single.log"), 0)
      << text(dir, "single.log");
  const auto ddp = model_tensors(dir.path() / "ddp"), single = model_tensors(dir.path() / "single");
  ASSERT_GT(ddp.size(), 4u);
  const double d = max_relative_difference(ddp, single);
  EXPECT_LE(d, kTolerance) << "data-parallel and single-process weights differ";
  std::cout << "[ measured ] max relative difference DDP vs single process: " << d << "\n";

  auto meta = nlohmann::json::parse(read_file(fs::directory_iterator(dir.path() / "ddp" / "model")->path() / "train.json"));
  EXPECT_EQ(meta.value("data_parallel_ranks", 0), 2);

  // The comparison can fail: a single process on 8-row batches (what one rank alone would train with,
  // i.e. no all-reduce) ends far outside the tolerance.
  std::string half = read_file(dir.path() / "spec.toml");
  half.replace(half.find("batch_size = 16"), 15, "batch_size = 8");
  std::ofstream(dir.path() / "half.toml") << half;
  ASSERT_EQ(repro_cli(dir, "train half.toml --cell " + kCell + " --store half", "half.log"), 0) << text(dir, "half.log");
  const double control = max_relative_difference(model_tensors(dir.path() / "half"), single);
  EXPECT_GT(control, 100 * kTolerance);
  std::cout << "[ measured ] control (8-row batches) vs single process: " << control << "\n";
}

TEST(DataParallel, RanksThatDivergeFailTheCell) {
  test::TempDir dir;
  fs::copy_file(fs::path(REPRO_TESTS_DIR) / "data" / "sweep.toml", dir.path() / "spec.toml");
  setenv("REPRO_TEST_DIVERGE_RANK", "1", 1);
  const int rc = repro_cli(dir, "train spec.toml --cell " + kCell + " --gpus 0,0 --store s", "diverged.log");
  unsetenv("REPRO_TEST_DIVERGE_RANK");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(text(dir, "diverged.log").find("ranks diverged"), std::string::npos) << text(dir, "diverged.log");
  EXPECT_FALSE(fs::exists(dir.path() / "s" / "model")) << "a cell whose ranks diverged must not be committed";
}

TEST(DataParallel, RefusesBadGroups) {
  test::TempDir dir;
  fs::copy_file(fs::path(REPRO_TESTS_DIR) / "data" / "sweep.toml", dir.path() / "spec.toml");
  EXPECT_EQ(repro_cli(dir, "train spec.toml --cell nope --gpus 0,0", "a.log"), 2);
  EXPECT_NE(text(dir, "a.log").find("--cell: 'nope' is not a cell"), std::string::npos) << text(dir, "a.log");
  EXPECT_EQ(repro_cli(dir, "train spec.toml --rank 2 --world-size 2 --master 127.0.0.1:1", "b.log"), 2);
  EXPECT_NE(text(dir, "b.log").find("rank 2 is outside a world of 2"), std::string::npos) << text(dir, "b.log");
  EXPECT_EQ(repro_cli(dir, "train spec.toml --rank 0 --world-size 2 --master nowhere", "c.log"), 2);
  EXPECT_NE(text(dir, "c.log").find("--master: expected HOST:PORT"), std::string::npos) << text(dir, "c.log");
}
