// AdamW and gradient clipping for the train stage, written so that an optimizer step never waits for the GPU
// and costs a handful of kernel launches: one fused multi-tensor AdamW kernel per parameter group (LibTorch's
// _fused_adamw_, what PyTorch's AdamW(fused=True) runs) and foreach norms for clipping. LibTorch's C++
// torch::optim::AdamW launches ~8 kernels per parameter and clip_grad_norm_ returns the norm as a double (a
// host sync every step); for the tiny models of the Achilles specs that overhead, not arithmetic, set the step
// rate. Same update rule as torch::optim::AdamW (decoupled weight decay, bias-corrected moments, eps outside
// the square root); results agree to rounding, not bit for bit (tests/test_optimizer.cpp).
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace repro {

class FusedAdamW {
 public:
  struct Group {
    std::vector<torch::Tensor> params;
    double weight_decay;
  };
  FusedAdamW(std::vector<Group> groups, double beta1, double beta2, double eps = 1e-8);

  void zero_grad();  // gradients to undefined, as torch::optim's default
  // One update with learning rate lr; parameters without a gradient (frozen, unused) are left alone.
  void step(double lr);
  // Moments and step counts, per parameter by position; load() expects the same parameter list.
  void save(torch::serialize::OutputArchive& a) const;
  void load(torch::serialize::InputArchive& a);

 private:
  struct State {
    torch::Tensor exp_avg, exp_avg_sq, step;  // undefined until the parameter's first update
  };
  std::vector<Group> groups_;
  std::vector<std::vector<State>> state_;
  double beta1_, beta2_, eps_;
};

// The trainer's AdamW for a model's parameters: weight decay on matrices and embeddings (dim >= 2) only; norms,
// biases and SSM vectors are not decayed.
std::unique_ptr<FusedAdamW> make_adamw(const std::vector<torch::Tensor>& params, double weight_decay, double beta1,
                                       double beta2);

// Scales every gradient by min(1, max_norm / (total 2-norm + 1e-6)), as torch::nn::utils::clip_grad_norm_,
// without reading the norm back to the host.
void clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);
// A train spec's clipping: "norm" (above), "value" (clamp each gradient to [-max, max]) or "none".
void clip_gradients(const std::vector<torch::Tensor>& params, const std::string& clip, double max);

}  // namespace repro
