#include "metrics.hpp"

#include "evaluate.hpp"
#include "lm_metrics.hpp"

namespace repro {

nlohmann::json Accuracy::to_json() const {
  nlohmann::json j = {{"token_accuracy", token}, {"query_accuracy", query}, {"example_accuracy", example},
          {"examples", examples},     {"queries", queries},      {"tokens", tokens},
          {"subsets", subsets}};
  if (!alternatives.empty()) j["alternatives"] = alternatives;
  return j;
}

Accuracy score(const sdk::Dataset& d, const torch::Tensor& preds_in) {
  Accuracy a;
  auto preds = preds_in.to(torch::kCPU);
  auto scored = d.answer_group >= 0;
  auto wrong = (preds != d.targets) & scored;  // [N, L]
  a.tokens = scored.sum().item<int64_t>();
  if (a.tokens == 0) return a;
  if (auto it = d.meta.find("accept"); it != d.meta.end()) {
    auto match = (preds.unsqueeze(-1) == it->second) & scored.unsqueeze(-1);  // [N, L, K]; -1 never matches
    wrong &= ~match.any(-1);
    auto per_k = match.sum(at::IntArrayRef{0, 1});
    for (int64_t k = 0; k < per_k.size(0); ++k)
      a.alternatives.push_back(per_k[k].item().toDouble() / static_cast<double>(a.tokens));
  }
  a.token = 1.0 - wrong.sum().item<double>() / static_cast<double>(a.tokens);

  const int64_t n = d.inputs.size(0);
  auto has_scored = scored.any(1);
  auto example_ok = has_scored & ~wrong.any(1);
  a.examples = has_scored.sum().item<int64_t>();
  a.example = example_ok.sum().item<double>() / static_cast<double>(a.examples);

  // Per (example, query) flags via scatter over answer_group.
  const int64_t groups = d.answer_group.max().item<int64_t>() + 1;
  auto idx = d.answer_group.clamp_min(0);
  auto present = torch::zeros({n, groups}, torch::kInt64).scatter_add_(1, idx, scored.to(torch::kInt64)) > 0;
  auto bad = torch::zeros({n, groups}, torch::kInt64).scatter_add_(1, idx, wrong.to(torch::kInt64)) > 0;
  auto query_ok = present & ~bad;
  a.queries = present.sum().item<int64_t>();

  double mean_of_subsets = 0;
  int64_t subsets_with_queries = 0;
  for (size_t s = 0; s < d.subset_names.size(); ++s) {
    auto rows = d.subset == static_cast<int64_t>(s);
    auto q = present.index({rows}).sum().item<int64_t>();
    if (q == 0) continue;
    double qa = query_ok.index({rows}).sum().item<double>() / static_cast<double>(q);
    auto ex = (rows & has_scored).sum().item<int64_t>();
    double ea = (example_ok & rows).sum().item<double>() / static_cast<double>(std::max<int64_t>(ex, 1));
    a.subsets[d.subset_names[s]] = {{"query_accuracy", qa}, {"example_accuracy", ea}, {"examples", ex}, {"queries", q}};
    mean_of_subsets += qa;
    ++subsets_with_queries;
  }
  a.query = subsets_with_queries ? mean_of_subsets / static_cast<double>(subsets_with_queries) : 0;
  return a;
}

nlohmann::json split_scores(const sdk::Dataset& d, const Evaluation& ev) {
  nlohmann::json r = score(d, ev.preds).to_json();
  r.update(lm_metrics(d, ev.row_nll));
  r["loss"] = ev.loss;
  return r;
}

}  // namespace repro
