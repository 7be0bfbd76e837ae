#include "interventions.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "../core/error.hpp"

namespace repro {
using json = nlohmann::json;
using torch::Tensor;

namespace {

Tensor positions(const Tensor& mask) { return torch::arange(mask.size(1), torch::kInt64).unsqueeze(0); }

// [n, 1]: the last position set in each row of `mask` (-1 where none).
Tensor last_set(const Tensor& mask) {
  const auto pos = positions(mask);
  return torch::where(mask, pos, torch::full_like(pos, -1)).amax(1, /*keepdim=*/true);
}

// [n, L] bool: positions after the last one set in `mask` (every row has one: checked by the caller).
Tensor after_last(const Tensor& mask) { return positions(mask) > last_set(mask); }

struct Counts {
  int64_t n = 0, blocked_same = 0, substituted_same = 0, control_n = 0, control_same = 0;
};

}  // namespace

Tensor control_sources(const Tensor& source) {
  const auto candidate = (positions(source) < last_set(source)) & ~source;
  // 1 for the nearest candidate before the last source, 2 for the next, ...
  const auto rank = candidate.to(torch::kInt64).flip(1).cumsum(1).flip(1);
  return candidate & (rank <= source.sum(1, /*keepdim=*/true));
}

json intervention_metrics(sdk::Model& model, const InterventionSpec& spec, const sdk::Dataset& data,
                          const torch::Device& device, int64_t batch_size) {
  if (!data.meta.count("role"))
    throw UserError(fmt::format("probe.interventions: test set '{}' has no per-position roles (its task sets no "
                                "\"role\" metadata), so the key and pair positions are unknown", spec.test));
  // The first examples_per_subset examples of each subset.
  std::vector<int64_t> picked;
  std::vector<int64_t> seen(data.subset_names.size(), 0);
  const auto sub = data.subset.contiguous();
  for (int64_t i = 0; i < sub.size(0); ++i)
    if (seen[sub[i].item<int64_t>()]++ < spec.examples_per_subset) picked.push_back(i);
  if (picked.empty()) throw UserError(fmt::format("probe.interventions: test set '{}' has no examples", spec.test));
  const auto rows = torch::tensor(picked, torch::kInt64);

  const auto role = data.meta.at("role").index_select(0, rows).to(torch::kInt64);
  auto source = torch::zeros_like(role, torch::kBool);
  for (auto r : spec.block_roles) source |= role == r;
  const auto twin_at = role == spec.twin_role;
  const auto K = static_cast<int64_t>(spec.twin_tokens.size());
  if (auto none = (source.sum(1) == 0).nonzero(); none.size(0) > 0)
    throw UserError(fmt::format("probe.interventions: example {} of test set '{}' has no position of the block roles",
                                rows[none[0][0]].item<int64_t>(), spec.test));
  if (auto off = (twin_at.sum(1) != K).nonzero(); off.size(0) > 0) {
    const int64_t i = off[0][0].item<int64_t>();
    throw UserError(fmt::format("probe.interventions: example {} of test set '{}' has {} positions of the twin role, "
                                "twin_tokens has {}", rows[i].item<int64_t>(), spec.test, twin_at[i].sum().item<int64_t>(), K));
  }
  const auto control = spec.control ? control_sources(source) : Tensor();
  auto target = after_last(source);
  auto substitute = after_last(twin_at);
  if (data.meta.count("length")) {  // padding is no target
    const auto len = data.meta.at("length").index_select(0, rows).unsqueeze(1);
    const auto inside = torch::arange(role.size(1), torch::kInt64).unsqueeze(0) < len;
    target &= inside, substitute &= inside;
  }
  const auto tokens = data.inputs.index_select(0, rows);
  // The twin: the k-th twin-role position of a row gets twin_tokens[k].
  const auto k = (twin_at.to(torch::kInt64).cumsum(1) - 1).clamp(0, K - 1);
  const auto twins = torch::where(twin_at, torch::tensor(spec.twin_tokens, torch::kInt64).index({k}), tokens);
  const auto scored = data.answer_group.index_select(0, rows) >= 0;
  const auto subset = sub.index_select(0, rows);

  torch::NoGradGuard ng;
  model.eval();
  std::vector<Counts> per(data.subset_names.size());
  const auto preds = [](const Tensor& logits) { return logits.argmax(-1).cpu(); };
  for (int64_t b = 0; b < tokens.size(0); b += batch_size) {
    const int64_t e = std::min(b + batch_size, tokens.size(0));
    const auto on = [&](const Tensor& t) { return t.slice(0, b, e).to(device); };
    const auto tok = on(tokens), twin = on(twins);
    sdk::SsmIntervention block;
    block.block_from = on(source);
    block.block_to = on(target);
    const auto blocked = model.intervene(tok, block);
    if (!blocked.defined()) return {{"interventions_not_supported", "the architecture has no selective SSM to intervene on"}};
    sdk::SsmIntervention swap;
    swap.substitute = on(substitute);
    swap.donor = model.internals(twin);
    // The references go through intervene() too, with nothing to do: the same code path as the interventions (on
    // CUDA forward() may take a fused kernel whose rounding could flip a near-tie and pass for an effect).
    const auto plain = preds(model.intervene(tok, {})), twin_plain = preds(model.intervene(twin, {}));
    const auto mask = scored.slice(0, b, e);
    // An example agrees when every scored position does (positions without a score always "agree").
    const auto same = [&](const Tensor& a, const Tensor& c) { return ((a == c) | ~mask).all(1); };
    const auto same_b = same(preds(blocked), plain), same_s = same(preds(model.intervene(tok, swap)), twin_plain);
    Tensor same_c, has_c;
    if (spec.control) {
      sdk::SsmIntervention ctl;
      ctl.block_from = on(control);
      ctl.block_to = block.block_to;
      same_c = same(preds(model.intervene(tok, ctl)), plain);
      has_c = control.slice(0, b, e).any(1);
    }
    for (int64_t i = 0; i < e - b; ++i) {
      auto& c = per[subset[b + i].item<int64_t>()];
      ++c.n;
      c.blocked_same += same_b[i].item<bool>();
      c.substituted_same += same_s[i].item<bool>();
      if (spec.control && has_c[i].item<bool>()) ++c.control_n, c.control_same += same_c[i].item<bool>();
    }
  }

  json out, subsets = json::object();
  Counts all;
  double min_b = std::numeric_limits<double>::infinity(), min_s = min_b;
  for (size_t s = 0; s < per.size(); ++s) {
    const auto& c = per[s];
    if (c.n == 0) continue;
    const double fb = static_cast<double>(c.blocked_same) / c.n, fs = static_cast<double>(c.substituted_same) / c.n;
    json& o = subsets[data.subset_names[s]];
    o = {{"blocking_agreement", fb}, {"substitution_agreement", fs}, {"intervention_examples", c.n}};
    if (spec.control) {
      o["control_examples"] = c.control_n;
      if (c.control_n) o["control_blocking_agreement"] = static_cast<double>(c.control_same) / c.control_n;
    }
    min_b = std::min(min_b, fb), min_s = std::min(min_s, fs);
    all.n += c.n, all.blocked_same += c.blocked_same, all.substituted_same += c.substituted_same;
    all.control_n += c.control_n, all.control_same += c.control_same;
  }
  if (spec.control) {
    out["control_examples"] = all.control_n;
    if (all.control_n) out["control_blocking_agreement"] = static_cast<double>(all.control_same) / all.control_n;
  }
  out["blocking_agreement"] = static_cast<double>(all.blocked_same) / all.n;
  out["substitution_agreement"] = static_cast<double>(all.substituted_same) / all.n;
  out["blocking_agreement_min"] = min_b;
  out["substitution_agreement_min"] = min_s;
  out["intervention_examples"] = all.n;
  out["subsets"] = subsets;
  return out;
}

}  // namespace repro
