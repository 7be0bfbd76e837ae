#include "optimizer.hpp"

#include <fmt/format.h>

namespace repro {

namespace {
std::vector<torch::Tensor> defined_grads(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> g;
  for (const auto& p : params)
    if (p.grad().defined()) g.push_back(p.grad());
  return g;
}
}  // namespace

FusedAdamW::FusedAdamW(std::vector<Group> groups, double beta1, double beta2, double eps)
    : groups_(std::move(groups)), beta1_(beta1), beta2_(beta2), eps_(eps) {
  for (const auto& g : groups_) state_.emplace_back(g.params.size());
}

void FusedAdamW::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params) p.mutable_grad().reset();
}

void FusedAdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    std::vector<torch::Tensor> params, grads, m, v, steps;
    for (size_t i = 0; i < groups_[gi].params.size(); ++i) {
      const auto& p = groups_[gi].params[i];
      if (!p.grad().defined()) continue;
      State& s = state_[gi][i];
      if (!s.step.defined()) {
        s.exp_avg = torch::zeros_like(p, torch::MemoryFormat::Preserve);
        s.exp_avg_sq = torch::zeros_like(p, torch::MemoryFormat::Preserve);
        s.step = torch::zeros({}, p.options().dtype(torch::kFloat));
      }
      params.push_back(p), grads.push_back(p.grad()), m.push_back(s.exp_avg), v.push_back(s.exp_avg_sq);
      steps.push_back(s.step);
    }
    if (params.empty()) continue;
    at::_foreach_add_(steps, 1);  // the fused kernel reads the incremented count (as PyTorch's AdamW does)
    at::_fused_adamw_(params, grads, m, v, /*max_exp_avg_sqs=*/{}, steps, lr, beta1_, beta2_,
                      groups_[gi].weight_decay, eps_, /*amsgrad=*/false, /*maximize=*/false);
  }
}

void FusedAdamW::save(torch::serialize::OutputArchive& a) const {
  for (size_t gi = 0; gi < state_.size(); ++gi)
    for (size_t i = 0; i < state_[gi].size(); ++i) {
      const State& s = state_[gi][i];
      if (!s.step.defined()) continue;
      const std::string k = fmt::format("g{}.p{}.", gi, i);
      a.write(k + "exp_avg", s.exp_avg, /*is_buffer=*/true);
      a.write(k + "exp_avg_sq", s.exp_avg_sq, true);
      a.write(k + "step", s.step, true);
    }
}

void FusedAdamW::load(torch::serialize::InputArchive& a) {
  for (size_t gi = 0; gi < state_.size(); ++gi)
    for (size_t i = 0; i < state_[gi].size(); ++i) {
      const auto& p = groups_[gi].params[i];
      const std::string k = fmt::format("g{}.p{}.", gi, i);
      State s;
      if (!a.try_read(k + "step", s.step, true)) {
        state_[gi][i] = State{};  // never updated when the checkpoint was written
        continue;
      }
      a.read(k + "exp_avg", s.exp_avg, true);
      a.read(k + "exp_avg_sq", s.exp_avg_sq, true);
      // The archive loads on the CPU; the fused kernel wants every list on the parameters' device.
      s.exp_avg = s.exp_avg.to(p.device()), s.exp_avg_sq = s.exp_avg_sq.to(p.device()), s.step = s.step.to(p.device());
      state_[gi][i] = s;
    }
}

void clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  auto grads = defined_grads(params);
  if (grads.empty()) return;
  auto total = torch::linalg_vector_norm(torch::stack(at::_foreach_norm(grads, 2)), 2);
  auto coef = (max_norm / (total + 1e-6)).clamp_max(1.0);
  at::_foreach_mul_(grads, coef);
}

std::unique_ptr<FusedAdamW> make_adamw(const std::vector<torch::Tensor>& params, double weight_decay, double beta1,
                                       double beta2) {
  std::vector<torch::Tensor> decay, keep;
  for (const auto& p : params) (p.dim() >= 2 ? decay : keep).push_back(p);
  std::vector<FusedAdamW::Group> groups;
  if (!decay.empty()) groups.push_back({decay, weight_decay});
  if (!keep.empty()) groups.push_back({keep, 0.0});
  return std::make_unique<FusedAdamW>(std::move(groups), beta1, beta2);
}

void clip_gradients(const std::vector<torch::Tensor>& params, const std::string& clip, double max) {
  if (clip == "norm") clip_grad_norm(params, max);
  else if (clip == "value") torch::nn::utils::clip_grad_value_(params, max);
}

}  // namespace repro
