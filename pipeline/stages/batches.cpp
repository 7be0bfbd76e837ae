#include "batches.hpp"

#include <map>

namespace repro {

std::vector<int64_t> example_lengths(const sdk::Dataset& d) {
  const int64_t n = d.inputs.size(0), width = d.inputs.size(1);
  auto it = d.meta.find("length");
  if (it == d.meta.end()) return std::vector<int64_t>(static_cast<size_t>(n), width);
  auto l = it->second.to(torch::kCPU).contiguous();
  return {l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + n};
}

std::vector<Batch> epoch_batches(const sdk::Dataset& d, int64_t batch_size, uint64_t seed, int64_t epoch, bool shuffle) {
  const auto lengths = example_lengths(d);
  std::map<int64_t, std::vector<int64_t>> groups;  // length -> examples, in dataset order
  for (size_t i = 0; i < lengths.size(); ++i) groups[lengths[i]].push_back(static_cast<int64_t>(i));

  // Fisher-Yates with the SDK's portable RNG: the same order on every machine.
  sdk::Rng rng(sdk::Rng::derive(seed, "epoch-" + std::to_string(epoch)));
  auto permute = [&](auto& v) {
    for (int64_t i = static_cast<int64_t>(v.size()) - 1; i > 0; --i) std::swap(v[i], v[rng.uniform(0, i + 1)]);
  };
  std::vector<Batch> out;
  for (auto& [len, rows] : groups) {
    if (shuffle) permute(rows);
    for (size_t i = 0; i < rows.size(); i += static_cast<size_t>(batch_size)) {
      std::vector<int64_t> b(rows.begin() + i, rows.begin() + std::min(rows.size(), i + batch_size));
      out.push_back({torch::tensor(b, torch::kInt64), len});
    }
  }
  if (shuffle && groups.size() > 1) permute(out);  // interleave lengths instead of long-to-short phases
  return out;
}

}  // namespace repro
