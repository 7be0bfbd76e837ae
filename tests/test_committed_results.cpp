// The committed results (results/): every number there must come from a run that happened, with its provenance
// (git sha, spec hash, seed, device, versions, wall time) and unedited since it was written. Checks every result
// JSON in the checkout, and that the check catches a result edited by hand or stripped of its provenance.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "core/fs.hpp"
#include "stages/results.hpp"
#include "support.hpp"

namespace repro {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

const fs::path kRoot = fs::path(REPRO_PAPER_DIR).parent_path();

bool is_hex(const std::string& s, size_t lo, size_t hi) {
  return s.size() >= lo && s.size() <= hi && std::regex_match(s, std::regex("[0-9a-f]+"));
}
std::string text(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// What is wrong with one cell result (empty: nothing). `file` is relative to the checkout, for the messages.
std::vector<std::string> problems(const json& r, const std::string& file) {
  std::vector<std::string> out;
  auto bad = [&](const std::string& what) { out.push_back(file + ": " + what); };
  if (!result_intact(r)) bad("checksum mismatch: edited after it was written");
  if (text(r, "result_key").empty()) bad("no result_key");
  if (!r.contains("provenance") || !r["provenance"].is_object()) {
    bad("no provenance");
    return out;
  }
  const json& p = r["provenance"];
  const std::string git = text(p, "git");
  if (!is_hex(git.substr(0, git.find(' ')), 7, 40)) bad("provenance.git is not a commit: '" + git + "'");
  if (!is_hex(text(p, "spec_sha1"), 40, 40)) bad("provenance.spec_sha1 is not a SHA-1");
  if (!fs::is_regular_file(kRoot / text(p, "spec"))) bad("provenance.spec names no spec in paper/: '" + text(p, "spec") + "'");
  if (!p.contains("seed") || !r.contains("seed") || p["seed"] != r["seed"]) bad("provenance.seed differs from the cell's seed");
  if (text(p, "device").empty()) bad("no provenance.device");
  if (!p.contains("versions") || text(p["versions"], "libtorch").empty()) bad("no provenance.versions.libtorch");
  if (!p.contains("train_seconds") || !p["train_seconds"].is_number() || p["train_seconds"].get<double>() < 0)
    bad("no provenance.train_seconds (wall time)");
  if (!std::regex_match(text(p, "finished_at"), std::regex("20[0-9]{2}-[01][0-9]-[0-3][0-9]T.*Z")))
    bad("provenance.finished_at is not a UTC time");
  return out;
}

// Cell results: results/**/*.json except the benchmarks (results/bench: their own records, checked for device only).
std::vector<fs::path> committed_results() {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(kRoot / "results")) {
    const fs::path rel = fs::relative(e.path(), kRoot / "results");
    if (e.is_regular_file() && e.path().extension() == ".json" && *rel.begin() != "bench") out.push_back(e.path());
  }
  return out;
}

TEST(CommittedResults, EveryResultCarriesItsProvenanceAndIsUnedited) {
  const auto files = committed_results();
  ASSERT_GT(files.size(), 100u) << "the checkout's results/ was not found under " << kRoot;
  std::vector<std::string> all;
  for (const auto& f : files) {
    json r;
    try {
      r = json::parse(read_file(f));
    } catch (const std::exception& e) {
      all.push_back(fs::relative(f, kRoot).string() + ": unparseable: " + e.what());
      continue;
    }
    for (auto& p : problems(r, fs::relative(f, kRoot).string())) all.push_back(std::move(p));
  }
  EXPECT_TRUE(all.empty()) << all.size() << " problems, e.g.:\n" << fmt::format("{}", fmt::join(all.begin(), all.begin() + std::min<size_t>(all.size(), 10), "\n"));
}

TEST(CommittedResults, BenchmarksNameTheirDevice) {
  for (const auto& e : fs::directory_iterator(kRoot / "results" / "bench")) {
    if (e.path().extension() != ".json") continue;
    const json r = json::parse(read_file(e.path()));
    EXPECT_FALSE(text(r, "device").empty()) << e.path();
    EXPECT_TRUE(r.contains("libtorch") || r.contains("torch") || r.contains("versions")) << e.path() << ": no versions";
  }
}

// The check above must be able to fail: a number edited by hand, a missing device, a seed that is not the cell's.
TEST(CommittedResults, TheCheckCatchesEditsAndMissingProvenance) {
  const auto files = committed_results();
  ASSERT_FALSE(files.empty());
  const json good = json::parse(read_file(files.front()));
  ASSERT_TRUE(problems(good, "x").empty());
  json edited = good;
  edited["tests"].begin().value()["query_accuracy"] = 0.999;
  EXPECT_EQ(problems(edited, "x").size(), 1u) << "an edited number keeps the old checksum";
  // Provenance faults are found even in a result whose checksum was recomputed after the change.
  auto resealed = [](json r) {
    r["checksum"] = "";
    test::TempDir d;
    write_result(d.path(), "c", r);
    return json::parse(read_file(d.path() / "c.json"));
  };
  json no_device = good;
  no_device["provenance"].erase("device");
  EXPECT_EQ(problems(resealed(no_device), "x").size(), 1u);
  json other_seed = good;
  other_seed["provenance"]["seed"] = good["seed"].get<int64_t>() + 1;
  EXPECT_EQ(problems(resealed(other_seed), "x").size(), 1u);
  json no_git = good;
  no_git["provenance"]["git"] = "unknown";
  EXPECT_EQ(problems(resealed(no_git), "x").size(), 1u);
}

}  // namespace
}  // namespace repro
