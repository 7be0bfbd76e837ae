#include "evaluate.hpp"

#include <ATen/autocast_mode.h>

#include <algorithm>

#include "batches.hpp"

namespace repro {

AutocastGuard::AutocastGuard(bool on) : on_(on) {
  if (!on_) return;
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
}
AutocastGuard::~AutocastGuard() {
  if (!on_) return;
  at::autocast::set_autocast_enabled(at::kCUDA, false);
  at::autocast::clear_cache();
}

namespace {
namespace F = torch::nn::functional;

// The loss_mask positions (flat indices into [B·L]) with their logits in fp32 and their targets. Only the masked
// rows go through the fp32 softmax: MQAR scores a few dozen of a sequence's positions, and casting all [B·L, V]
// logits to fp32 dominated a small model's step (2 GB per step at V = 8,192, B·L = 65k).
struct Masked {
  torch::Tensor rows, logits, targets;
};
Masked masked(const torch::Tensor& logits, const torch::Tensor& targets, const torch::Tensor& loss_mask) {
  auto rows = loss_mask.reshape({-1}).nonzero().squeeze(1);
  return {rows, logits.reshape({-1, logits.size(-1)}).index_select(0, rows).to(torch::kFloat),
          targets.reshape({-1}).index_select(0, rows)};
}
}  // namespace

std::pair<torch::Tensor, torch::Tensor> masked_ce_sum(const torch::Tensor& logits, const torch::Tensor& targets,
                                                      const torch::Tensor& loss_mask) {
  const Masked m = masked(logits, targets, loss_mask);
  auto sum = F::cross_entropy(m.logits, m.targets, F::CrossEntropyFuncOptions().reduction(torch::kSum));
  return {sum, loss_mask.sum()};
}

Evaluation evaluate(sdk::Model& model, const sdk::Dataset& d, const torch::Device& device, int64_t batch,
                    bool autocast) {
  torch::NoGradGuard ng;
  const bool was_training = model.is_training();
  model.eval();
  const int64_t n = d.inputs.size(0);
  const auto lengths = example_lengths(d);
  Evaluation e;
  e.preds = torch::full({n, d.inputs.size(1)}, -1, torch::kInt64);  // -1 beyond an example's length
  e.row_nll = torch::zeros({n}, torch::kFloat64);
  double loss_sum = 0, count = 0;
  for (int64_t i = 0; i < n; i += batch) {
    const int64_t j = std::min(n, i + batch);
    // Causal models: cutting the batch to its longest example changes nothing but the cost.
    const int64_t len = *std::max_element(lengths.begin() + i, lengths.begin() + j);
    auto cut = [&](const torch::Tensor& t) { return t.slice(0, i, j).narrow(1, 0, len).to(device); };
    torch::Tensor logits;
    {
      AutocastGuard ag(autocast);
      logits = model.forward(cut(d.inputs));
    }
    // Per position, then per example: multiple-choice scoring compares examples' summed log-likelihoods.
    auto mask = cut(d.loss_mask);
    const Masked m = masked(logits, cut(d.targets), mask);
    auto nll = F::cross_entropy(m.logits, m.targets, F::CrossEntropyFuncOptions().reduction(torch::kNone));
    auto per_row = torch::zeros({j - i}, nll.options().dtype(torch::kFloat64))
                       .index_add_(0, torch::div(m.rows, len, "floor"), nll.to(torch::kFloat64));
    e.row_nll.slice(0, i, j).copy_(per_row);
    loss_sum += nll.sum().item<double>();
    count += mask.sum().item<double>();
    e.preds.slice(0, i, j).narrow(1, 0, len).copy_(logits.argmax(-1));
  }
  model.train(was_training);
  e.loss = count > 0 ? loss_sum / count : 0;
  return e;
}

}  // namespace repro
