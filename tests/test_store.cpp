#include <chrono>
#include <fstream>
#include <thread>

#include "core/fs.hpp"
#include "core/store.hpp"
#include "support.hpp"

using namespace repro;
namespace fs = std::filesystem;

TEST(Store, CommitThenFind) {
  test::TempDir dir;
  Store s(dir.path());
  EXPECT_FALSE(s.find("dataset", "k1"));
  {
    auto b = s.build("dataset", "k1");
    std::ofstream(b.dir() / "a.bin") << "hello";
    b.commit({{"note", "x"}});
  }
  auto found = s.find("dataset", "k1");
  ASSERT_TRUE(found);
  EXPECT_EQ(read_file(*found / "a.bin"), "hello");
  EXPECT_EQ(s.meta(*found)["note"], "x");
}

TEST(Store, UncommittedBuildLeavesNothingVisible) {
  test::TempDir dir;
  Store s(dir.path());
  {
    auto b = s.build("model", "k2");
    std::ofstream(b.dir() / "half.bin") << "partial";
    // destroyed without commit, as when a stage throws midway
  }
  EXPECT_FALSE(s.find("model", "k2"));
  EXPECT_FALSE(fs::exists(dir.path() / "model" / "k2"));
  EXPECT_TRUE(fs::is_empty(dir.path() / "tmp"));
}

TEST(Store, CorruptionIsDetectedAndTheArtifactRemoved) {
  test::TempDir dir;
  Store s(dir.path());
  for (const char* how : {"flip", "truncate", "delete", "manifest"}) {
    auto b = s.build("dataset", how);
    std::ofstream(b.dir() / "data.bin") << std::string(1000, 'a');
    auto d = b.commit({});
    if (std::string(how) == "flip") {
      std::fstream f(d / "data.bin", std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(500);
      f.put('b');
    } else if (std::string(how) == "truncate") {
      fs::resize_file(d / "data.bin", 10);
    } else if (std::string(how) == "delete") {
      fs::remove(d / "data.bin");
    } else {
      std::ofstream(d / "MANIFEST.json") << "{not json";
    }
    EXPECT_FALSE(s.find("dataset", how)) << how;
    EXPECT_FALSE(fs::exists(d)) << how << ": corrupted artifact left in place";
  }
}

TEST(Store, AtomicWriteReplacesWholeFile) {
  test::TempDir dir;
  auto p = dir.path() / "f.txt";
  write_file_atomic(p, "one");
  write_file_atomic(p, "two");
  EXPECT_EQ(read_file(p), "two");
  for (const auto& e : fs::directory_iterator(dir.path())) EXPECT_EQ(e.path().filename(), "f.txt");
}

// Lookups remember files they have verified (manifest.cpp), but damage after a check is still caught.
TEST(Store, DamageAfterARememberedCheckIsCaught) {
  test::TempDir dir;
  Store s(dir.path());
  auto b = s.build("dataset", "k");
  std::ofstream(b.dir() / "data.bin") << std::string(1000, 'a');
  auto d = b.commit({});
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // old enough to be remembered
  ASSERT_TRUE(s.find("dataset", "k"));
  ASSERT_TRUE(s.find("dataset", "k"));
  {
    std::fstream f(d / "data.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(500);
    f.put('b');
  }
  EXPECT_FALSE(s.find("dataset", "k"));
}
