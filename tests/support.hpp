// Test helpers: the build tree's plugins, scratch directories, spec files.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/plugins.hpp"

namespace repro::test {

inline const PluginRegistry& plugins() {
  static PluginRegistry reg(PluginRegistry::search_path({}));
  return reg;
}

// A fresh directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("repro-test-" + std::string(info ? info->name() : "x") + "-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter()++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    auto p = path_ / name;
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::filesystem::path path_;
};

// A small valid spec; tests patch pieces of it.
inline std::string tiny_spec(const std::string& extra_train = "") {
  return std::string(R"([experiment]
name = "tiny"

[datasets.mqar]
task = "mqar"
train_examples = 256
valid_examples = 32
test_examples = 64
params = { vocab_size = 32, seq_len = 16, num_kv_pairs = [2] }

[models.tf]
architecture = "transformer"
config = { d_model = 32, n_layers = 1, n_heads = 2 }

[train]
batch_size = 32
)") + (extra_train.find("epochs") == std::string::npos ? "epochs = 2\n" : "") + extra_train + R"(
[grid]
train = ["mqar"]
test = ["mqar"]
models = ["tf"]
seeds = [0]
)";
}

}  // namespace repro::test
