// Disk full / unwritable store: a run that cannot write (a file size limit, RLIMIT_FSIZE, stands in for
// a full disk; a store path under a regular file for an unwritable one) fails with a clear error and a
// non-zero exit, and whatever it left marked complete is exactly what an unlimited run produces. A
// following unlimited run then finishes with the same outcome as if nothing had happened.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli_process.hpp"
#include "outcome.hpp"

using namespace repro;
namespace fs = std::filesystem;

TEST(DiskFull, FailedWritesLeaveNothingWrongMarkedComplete) {
  test::TempDir ref;
  const std::string text = test::tiny_spec("checkpoint_every = 3\n") + "\n[probe]\nexamples = [0]\n";
  auto args = [&](const test::TempDir& d) { return test::pipeline_args("run", d.write("s.toml", text), d.path()); };
  ASSERT_EQ(test::run_cli(args(ref), ref.path() / "run.log").code, 0);
  const test::Outcome want = test::outcome(ref.path());

  // Limits that stop the run in different places: the first dataset file (37 KiB), a checkpoint's weights
  // (71 KiB), its optimizer state (140 KiB). The published model and results are smaller than these.
  std::vector<std::string> failed_at;
  for (long long kib : {1, 40, 96}) {
    SCOPED_TRACE(fmt::format("file size limit {} KiB", kib));
    test::TempDir d;
    test::CliOptions o;
    o.file_size_limit = kib * 1024;
    auto r = test::run_cli(args(d), d.path() / "limited.log", o);
    EXPECT_EQ(r.code, 1) << "succeeded, or killed instead of failing cleanly\n" << r.log;
    EXPECT_NE(r.log.find("error: "), std::string::npos) << r.log;
    EXPECT_NE(r.log.find("File too large"), std::string::npos) << r.log;
    EXPECT_NE(r.log.find(d.path().string()), std::string::npos) << "the error names no path\n" << r.log;
    const auto stage = test::outcome(d.path());
    for (const auto& [k, v] : stage)
      EXPECT_TRUE(want.count(k) && want.at(k) == v) << k << " is marked complete but differs from a full run";
    const std::string first_error = r.log.substr(r.log.find("error: "));
    const std::string line = first_error.substr(0, first_error.find('\n'));
    failed_at.push_back(fmt::format("{} KiB: {}", kib, line.substr(line.rfind('/', line.find(": write failed")) + 1)));
    auto again = test::run_cli(args(d), d.path() / "again.log");
    EXPECT_EQ(again.code, 0) << again.log;
    EXPECT_EQ(again.log.find("corrupted"), std::string::npos) << again.log;
    test::expect_same(want, test::outcome(d.path()), "after the limit was lifted");
  }

  test::TempDir d;
  auto a = args(d);
  d.write("file", "not a directory");
  a[3] = (d.path() / "file" / "store").string();
  auto r = test::run_cli(a, d.path() / "unwritable.log");
  EXPECT_NE(r.code, 0) << r.log;
  EXPECT_GT(r.code, 0) << r.log;
  EXPECT_NE(r.log.find("Not a directory"), std::string::npos) << r.log;
  EXPECT_FALSE(fs::exists(d.path() / "results" / "tiny" / "mqar__tf__s0.json"));

  std::cout << fmt::format("reliability: disk full: {} runs under a file size limit failed with the path and exit "
                           "1 ({}), nothing wrong marked complete, each then finished bitwise equal to an unlimited "
                           "run; unwritable store: exit {}\n",
                           failed_at.size(), fmt::join(failed_at, "; "), r.code);
}
