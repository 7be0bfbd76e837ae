#include "lm_metrics.hpp"

#include <cmath>
#include <map>

namespace repro {
using json = nlohmann::json;

namespace {

const torch::Tensor* meta(const sdk::Dataset& d, const char* name) {
  auto it = d.meta.find(name);
  return it == d.meta.end() ? nullptr : &it->second;
}

json multiple_choice(const sdk::Dataset& d, const torch::Tensor& row_nll) {
  const auto q = meta(d, "mc_question")->accessor<int64_t, 1>(), label = meta(d, "mc_label")->accessor<int64_t, 1>();
  const auto chars = meta(d, "mc_chars")->accessor<int64_t, 1>();
  struct Best {
    double ll = -INFINITY, norm = -INFINITY;
    int64_t choice = -1, choice_norm = -1, label = -1, seen = 0;
  };
  std::map<int64_t, Best> best;  // question -> its best choices so far, rows in choice order
  const auto cpu = row_nll.to(torch::kCPU, torch::kFloat64);
  const auto nll = cpu.accessor<double, 1>();
  for (int64_t r = 0; r < nll.size(0); ++r) {
    Best& b = best[q[r]];
    const double ll = -nll[r];
    const double norm = ll / static_cast<double>(std::max<int64_t>(1, chars[r]));
    if (ll > b.ll) b.ll = ll, b.choice = b.seen;
    if (norm > b.norm) b.norm = norm, b.choice_norm = b.seen;
    b.label = label[r];
    ++b.seen;
  }
  double right = 0, right_norm = 0;
  for (const auto& [_, b] : best) {
    right += b.choice == b.label;
    right_norm += b.choice_norm == b.label;
  }
  const double n = static_cast<double>(best.size());
  return {{"mc_accuracy", right / n}, {"mc_accuracy_norm", right_norm / n}, {"mc_questions", best.size()}};
}

}  // namespace

json lm_metrics(const sdk::Dataset& d, const torch::Tensor& row_nll) {
  if (d.inputs.size(0) == 0) return json::object();
  if (meta(d, "mc_question") && meta(d, "mc_label") && meta(d, "mc_chars")) return multiple_choice(d, row_nll);
  if ((d.answer_group >= 0).any().item<bool>()) return json::object();  // answers are scored by accuracy instead
  const double nll = row_nll.sum().item<double>(), tokens = d.loss_mask.sum().item<double>();
  json j = {{"perplexity", std::exp(nll / std::max(1.0, tokens))}, {"tokens_scored", tokens}};
  if (meta(d, "words") && meta(d, "bytes")) {
    const double words = meta(d, "words")->sum().item<double>(), bytes = meta(d, "bytes")->sum().item<double>();
    j["word_perplexity"] = std::exp(nll / std::max(1.0, words));
    j["bits_per_byte"] = nll / std::log(2.0) / std::max(1.0, bytes);
  }
  return j;
}

}  // namespace repro
