#include "dataset_io.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdint>

#include "error.hpp"
#include "safetensors.hpp"

namespace repro {

namespace {
// Integer tensors are stored in the narrowest of int16/int32/int64 that holds their values (the
// paper's 20,000-token vocabulary fits int16: a 4x smaller file) and widened back to int64 on load.
torch::Tensor narrow_ints(const torch::Tensor& t) {
  if (t.scalar_type() != torch::kInt64 || t.numel() == 0) return t;
  const auto lo = t.min().item<int64_t>(), hi = t.max().item<int64_t>();
  if (lo >= INT16_MIN && hi <= INT16_MAX) return t.to(torch::kInt16);
  if (lo >= INT32_MIN && hi <= INT32_MAX) return t.to(torch::kInt32);
  return t;
}
torch::Tensor widen_ints(const torch::Tensor& t) {
  return t.scalar_type() == torch::kInt16 || t.scalar_type() == torch::kInt32 ? t.to(torch::kInt64) : t;
}
}  // namespace

void save_dataset(const std::filesystem::path& dir, const sdk::Dataset& d) {
  TensorMap t = {{"inputs", d.inputs}, {"targets", d.targets}, {"loss_mask", d.loss_mask},
                 {"answer_group", d.answer_group}, {"subset", d.subset}};
  for (const auto& [k, v] : d.meta) t["meta." + k] = v;
  for (auto& [k, v] : t) v = narrow_ints(v);
  save_safetensors(dir / kDatasetFile, t, {{"subset_names", nlohmann::json(d.subset_names).dump()}});
}

sdk::Dataset load_dataset(const std::filesystem::path& dir) {
  std::map<std::string, std::string> md;
  TensorMap t = load_safetensors(dir / kDatasetFile, &md);
  for (auto& [k, v] : t) v = widen_ints(v);
  sdk::Dataset d;
  auto take = [&](const char* k) {
    auto it = t.find(k);
    if (it == t.end()) throw StageError((dir / kDatasetFile).string() + ": missing tensor " + k);
    return it->second;
  };
  d.inputs = take("inputs");
  d.targets = take("targets");
  d.loss_mask = take("loss_mask");
  d.answer_group = take("answer_group");
  d.subset = take("subset");
  d.subset_names = nlohmann::json::parse(md.at("subset_names")).get<std::vector<std::string>>();
  for (const auto& [k, v] : t)
    if (k.rfind("meta.", 0) == 0) d.meta[k.substr(5)] = v;
  return d;
}

void check_dataset(const sdk::Dataset& d, int64_t vocab, const std::string& who) {
  auto bad = [&](const std::string& why) { return StageError(who + ": task produced an invalid dataset: " + why); };
  if (!d.inputs.defined() || d.inputs.dim() != 2 || d.inputs.scalar_type() != torch::kInt64)
    throw bad("inputs must be [N, L] int64");
  const auto n = d.inputs.size(0);
  for (auto [name, t, dtype] : {std::tuple{"targets", d.targets, torch::kInt64},
                                std::tuple{"loss_mask", d.loss_mask, torch::kBool},
                                std::tuple{"answer_group", d.answer_group, torch::kInt64}})
    if (!t.defined() || t.sizes() != d.inputs.sizes() || t.scalar_type() != dtype)
      throw bad(fmt::format("{} must have the shape of inputs and dtype {}", name, c10::toString(dtype)));
  if (!d.subset.defined() || d.subset.dim() != 1 || d.subset.size(0) != n) throw bad("subset must be [N] int64");
  if (n > 0) {
    if (d.inputs.min().item<int64_t>() < 0 || d.inputs.max().item<int64_t>() >= vocab)
      throw bad(fmt::format("input ids outside [0, {})", vocab));
    auto scored = d.targets.masked_select(d.loss_mask | (d.answer_group >= 0));
    if (scored.numel() && (scored.min().item<int64_t>() < 0 || scored.max().item<int64_t>() >= vocab))
      throw bad("a supervised or scored position has a target outside the vocabulary");
    if (d.subset.min().item<int64_t>() < 0 || d.subset.max().item<int64_t>() >= (int64_t)d.subset_names.size())
      throw bad("subset index without a name");
  }
  for (const auto& [k, v] : d.meta)
    if (!v.defined() || v.dim() < 1 || v.size(0) != n) throw bad("meta tensor '" + k + "' must have leading dim N");
}

}  // namespace repro
