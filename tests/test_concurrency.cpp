// Concurrency: two `repro run` processes started together on one store and one spec both succeed, every
// dataset is generated once, every cell is trained once and probed once, and no file is torn.
#include <fmt/format.h>

#include "cli_process.hpp"
#include "core/manifest.hpp"
#include "stages/results.hpp"

using namespace repro;
namespace fs = std::filesystem;

TEST(Concurrency, TwoRunsOnOneStoreComputeEachCellOnce) {
  test::TempDir dir;
  std::string text = test::tiny_spec();
  text.replace(text.find("seeds = [0]"), 11, "seeds = [0, 1, 2]");
  const fs::path spec = dir.write("s.toml", text);
  const auto args = test::pipeline_args("run", spec, dir.path());
  std::string logs;
  {
    test::CliProcess a(args, dir.path() / "a.log"), b(args, dir.path() / "b.log");
    EXPECT_EQ(a.exit_code(), 0) << a.log();
    EXPECT_EQ(b.exit_code(), 0) << b.log();
    logs = a.log() + b.log();
  }
  const size_t generated = test::count(logs, "generated mqar"), trained = test::count(logs, ": trained "),
               probed = test::count(logs, ": test mqar: example acc");
  EXPECT_EQ(generated, 3u) << "train, valid and test split once each\n" << logs;
  EXPECT_EQ(trained, 3u) << logs;
  EXPECT_EQ(probed, 3u) << logs;

  // No torn files: every artifact and result verifies, nothing temporary is left, and a third run is a no-op.
  size_t files = 0;
  for (const char* kind : {"dataset", "model"})
    for (const auto& e : fs::directory_iterator(dir.path() / "store" / kind)) {
      EXPECT_EQ(verify_manifest(e.path()), "") << e.path();
      files += fs::directory_iterator(e.path()) == fs::directory_iterator() ? 0 : 1;
    }
  for (const char* seed : {"0", "1", "2"}) {
    const std::string key = nlohmann::json::parse(read_file(dir.path() / "results" / "tiny" / fmt::format("mqar__tf__s{}.json", seed)))
                                .value("result_key", "");
    EXPECT_TRUE(read_result(dir.path() / "results" / "tiny", fmt::format("mqar__tf__s{}", seed), key)) << seed;
    ++files;
  }
  size_t leftovers = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir.path()))
    if (e.path().filename().string().find(".tmp") != std::string::npos) ADD_FAILURE() << "left behind: " << e.path(), ++leftovers;
  EXPECT_TRUE(fs::is_empty(dir.path() / "store" / "tmp"));
  auto third = test::run_cli(args, dir.path() / "c.log");
  EXPECT_NE(third.log.find("3 up to date, 0 to run"), std::string::npos) << third.log;
  std::cout << fmt::format("reliability: concurrency: 2 runs at once on one store: {} datasets generated, {} cells "
                           "trained, {} probed (3 of each expected); {} artifacts and results verified, {} torn or "
                           "temporary files\n",
                           generated, trained, probed, files, leftovers);
}
