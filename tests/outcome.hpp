// What a run leaves behind, reduced to what must be bitwise reproducible: dataset bytes, trained weights,
// training curves and test metrics (wall times and throughput left out). Two runs are "the same" when
// their outcomes are equal.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "core/fs.hpp"
#include "core/hash.hpp"
#include "support.hpp"

namespace repro::test {

using Outcome = std::map<std::string, std::string>;  // what -> canonical bytes or their SHA-1

inline nlohmann::json without_timing(nlohmann::json line) {
  if (line.is_object()) line.erase("tokens_per_s");
  return line;
}

// Every tensor of a saved module (submodules recursively), by name: the archive's own bytes may carry more.
inline void hash_archive(torch::serialize::InputArchive& a, const std::string& prefix, Hasher& h) {
  for (const auto& key : a.keys()) {
    torch::Tensor t;
    torch::serialize::InputArchive sub;
    if (a.try_read(key, t)) {
      t = t.contiguous();
      h.field(prefix + key).add(std::string_view(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size()));
    } else if (a.try_read(key, sub)) {
      hash_archive(sub, prefix + key + ".", h);
    }
  }
}
inline std::string weights_hash(const std::filesystem::path& model_pt) {
  torch::serialize::InputArchive a;
  a.load_from(model_pt.string());
  Hasher h;
  hash_archive(a, "", h);
  return h.hex();
}

// `dir` holds store/ and results/ of one spec run.
inline Outcome outcome(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  Outcome o;
  auto each = [](const fs::path& d, auto f) {
    if (fs::is_directory(d))
      for (const auto& e : fs::directory_iterator(d)) f(e.path());
  };
  each(dir / "store" / "dataset", [&](const fs::path& d) {
    o["dataset " + d.filename().string()] = sha1_file(d / "dataset.safetensors");
  });
  each(dir / "store" / "model", [&](const fs::path& d) {
    const std::string k = "model " + d.filename().string();
    o[k + " weights"] = weights_hash(d / "model.pt");
    std::ifstream in(d / "metrics.jsonl");
    std::string line, metrics;
    while (std::getline(in, line)) metrics += without_timing(nlohmann::json::parse(line)).dump() + "\n";
    o[k + " metrics"] = metrics;
    o[k + " final_train_loss"] = nlohmann::json::parse(read_file(d / "train.json"))["final_train_loss"].dump();
  });
  each(dir / "results", [&](const fs::path& spec_dir) {
    each(spec_dir, [&](const fs::path& f) {
      if (f.extension() != ".json") return;
      auto r = nlohmann::json::parse(read_file(f));
      nlohmann::json curve = nlohmann::json::array();
      for (const auto& p : r["curve"]) curve.push_back(without_timing(p));
      o["result " + f.filename().string() + " tests"] = r["tests"].dump();
      o["result " + f.filename().string() + " curve"] = curve.dump();
    });
  });
  return o;
}

// Fails with the first differing entries named.
inline void expect_same(const Outcome& want, const Outcome& got, const std::string& what) {
  EXPECT_EQ(want.size(), got.size()) << what;
  for (const auto& [k, v] : want) {
    auto it = got.find(k);
    if (it == got.end()) ADD_FAILURE() << what << ": missing " << k;
    else if (it->second != v) ADD_FAILURE() << what << ": " << k << " differs:\n  want " << v.substr(0, 300) << "\n  got  " << it->second.substr(0, 300);
  }
}

}  // namespace repro::test
