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

std::pair<torch::Tensor, torch::Tensor> masked_ce_sum(const torch::Tensor& logits, const torch::Tensor& targets,
                                                      const torch::Tensor& loss_mask) {
  const auto v = logits.size(-1);
  // Only the masked rows go through the fp32 softmax: MQAR scores a few dozen of a sequence's positions, and
  // casting all [B·L, V] logits to fp32 dominated a small model's step (2 GB per step at V = 8,192, B·L = 65k).
  auto rows = loss_mask.reshape({-1}).nonzero().squeeze(1);
  auto picked = logits.reshape({-1, v}).index_select(0, rows).to(torch::kFloat);
  auto y = targets.reshape({-1}).index_select(0, rows);
  namespace F = torch::nn::functional;
  auto sum = F::cross_entropy(picked, y, F::CrossEntropyFuncOptions().reduction(torch::kSum));
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
    auto [s, c] = masked_ce_sum(logits, cut(d.targets), cut(d.loss_mask));
    loss_sum += s.item<double>();
    count += c.item<double>();
    e.preds.slice(0, i, j).narrow(1, 0, len).copy_(logits.argmax(-1));
  }
  model.train(was_training);
  e.loss = count > 0 ? loss_sum / count : 0;
  return e;
}

}  // namespace repro
