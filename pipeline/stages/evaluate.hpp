// Batched forward passes of a model over a dataset without gradients: mean loss and predictions.
#pragma once
#include <repro/sdk.hpp>

namespace repro {

// Enables bf16 autocast on CUDA for its lifetime (no-op when off).
class AutocastGuard {
 public:
  explicit AutocastGuard(bool on);
  ~AutocastGuard();

 private:
  bool on_;
};

// Cross-entropy summed over loss_mask positions, and their count (so callers can average safely).
std::pair<torch::Tensor, torch::Tensor> masked_ce_sum(const torch::Tensor& logits, const torch::Tensor& targets,
                                                      const torch::Tensor& loss_mask);

struct Evaluation {
  double loss = 0;        // mean over loss_mask positions
  torch::Tensor preds;    // [N, L] int64 on CPU
  torch::Tensor row_nll;  // [N] float64 on CPU: each example's cross-entropy summed over its loss_mask positions
};

Evaluation evaluate(sdk::Model& model, const sdk::Dataset& d, const torch::Device& device, int64_t batch,
                    bool autocast);

}  // namespace repro
