// Determinism: one spec and seed, run twice in separate processes on fresh stores, gives the same dataset
// bytes (pinned by golden hashes of the store's files) and, on CPU, the same weights and training curves.
#include <fmt/format.h>

#include "cli_process.hpp"
#include "core/manifest.hpp"
#include "outcome.hpp"

using namespace repro;
namespace fs = std::filesystem;

TEST(Determinism, SameSpecAndSeedGiveIdenticalDatasetsAndCurves) {
  test::TempDir a, b;
  const std::string text = test::tiny_spec("log_every = 2\n");
  for (const test::TempDir* d : {&a, &b}) {
    auto r = test::run_cli(test::pipeline_args("run", d->write("s.toml", text), d->path()), d->path() / "run.log");
    ASSERT_EQ(r.code, 0) << r.log;
  }
  const test::Outcome oa = test::outcome(a.path()), ob = test::outcome(b.path());
  test::expect_same(oa, ob, "second run vs first");

  // The bytes the store holds for each split of tests/support.hpp's tiny spec. A change here means every
  // cached dataset and result is invalidated: bump the task's version() if it is deliberate.
  const std::map<std::string, std::string> golden = {{"train", "3aae523c75dd9ee7487e4ded2ee20fc658ddaeb5"},
                                                     {"valid", "a9667114eb93e4122414bf988294df42a4a5f7e6"},
                                                     {"test", "3263cfe9d36c552900c816df62301d3028ffc5bb"}};
  for (const auto& e : fs::directory_iterator(a.path() / "store" / "dataset")) {
    const std::string split = manifest_meta(e.path()).value("split", "");
    EXPECT_EQ(sha1_file(e.path() / "dataset.safetensors"), golden.at(split)) << split;
  }
  size_t points = 0;
  for (const auto& [k, v] : oa)
    if (k.find(" curve") != std::string::npos) points = nlohmann::json::parse(v).size();
  std::cout << fmt::format("reliability: determinism: 2 runs of one spec and seed: 3 datasets equal to their golden "
                           "hashes, weights and the {}-point training curve bitwise identical\n",
                           points);
}
