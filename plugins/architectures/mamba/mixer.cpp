#include "mixer.hpp"

#include <cmath>

namespace mamba {
namespace F = torch::nn::functional;

namespace {
// Depthwise causal convolution over time: pad k-1 on the left (Conv1d pads both sides; keep the first L).
torch::nn::Conv1d causal_depthwise(int64_t channels, int64_t k) {
  return torch::nn::Conv1d(torch::nn::Conv1dOptions(channels, channels, k).groups(channels).padding(k - 1).bias(true));
}
torch::Tensor run_causal(torch::nn::Conv1d& conv, const torch::Tensor& x_bdl) {
  return conv->forward(x_bdl).narrow(2, 0, x_bdl.size(2));
}
}  // namespace

MixerImpl::MixerImpl(const MixerConfig& c) : c_(c) {
  using torch::nn::LinearOptions;
  in_proj_ = register_module("in_proj", torch::nn::Linear(LinearOptions(c.d_model, 2 * c.d_inner).bias(false)));
  conv_ = register_module("conv", causal_depthwise(c.d_inner, c.d_conv));
  x_proj_ = register_module("x_proj", torch::nn::Linear(LinearOptions(c.d_inner, c.dt_rank + 2 * c.d_state).bias(false)));
  dt_proj_ = register_module("dt_proj", torch::nn::Linear(LinearOptions(c.dt_rank, c.d_inner).bias(true)));
  out_proj_ = register_module("out_proj", torch::nn::Linear(LinearOptions(c.d_inner, c.d_model).bias(false)));
  if (c.long_conv_kernel > 0) long_conv_ = register_module("long_conv", causal_depthwise(c.d_inner, c.long_conv_kernel));
  // S4D-real: A[d, n] = -(n + 1), stored as log so A stays negative under any update.
  A_log_ = register_parameter("A_log", torch::log(torch::arange(1, c.d_state + 1, torch::kFloat)).repeat({c.d_inner, 1}));
  D_ = register_parameter("D", torch::ones({c.d_inner}));

  torch::NoGradGuard ng;
  // Mamba's dt init: weights U(-r^-1/2, r^-1/2); bias = softplus^-1(dt), dt log-uniform in [dt_min, dt_max].
  const double w = std::pow(static_cast<double>(c.dt_rank), -0.5);
  dt_proj_->weight.uniform_(-w, w);
  auto dt = torch::exp(torch::rand({c.d_inner}) * (std::log(c.dt_max) - std::log(c.dt_min)) + std::log(c.dt_min))
                .clamp_min(c.dt_init_floor);
  dt_proj_->bias.copy_(dt + torch::log(-torch::expm1(-dt)));
  // Residual-branch output scaled by 1/sqrt(n_layers) (HF Mamba's rescale_prenorm_residual).
  out_proj_->weight.div_(std::sqrt(static_cast<double>(c.n_layers)));
}

torch::Tensor MixerImpl::forward(const torch::Tensor& u, std::map<std::string, torch::Tensor>* internals) {
  const int64_t R = c_.dt_rank, N = c_.d_state;
  auto xz = in_proj_->forward(u);
  auto x = xz.narrow(-1, 0, c_.d_inner), z = xz.narrow(-1, c_.d_inner, c_.d_inner);
  auto x_bdl = x.transpose(1, 2);
  auto xc = F::silu(run_causal(conv_, x_bdl)).transpose(1, 2);  // [B, L, D_inner]
  auto proj = x_proj_->forward(xc);
  auto dt_low = proj.narrow(-1, 0, R), Bm = proj.narrow(-1, R, N), Cm = proj.narrow(-1, R + N, N);
  auto dt_pre = torch::matmul(dt_low, dt_proj_->weight.t()).to(torch::kFloat);
  torch::Tensor gate;
  if (long_conv_) {
    gate = F::silu(run_causal(long_conv_, x_bdl).transpose(1, 2).to(torch::kFloat));
    dt_pre = dt_pre * gate;  // global context scales the input-dependent part of delta (before bias)
  }
  // The recurrence runs in fp32 whatever the autocast dtype: exp/cumulative products are sensitive.
  auto delta = F::softplus(dt_pre + dt_proj_->bias.to(torch::kFloat));
  auto A = -torch::exp(A_log_.to(torch::kFloat));
  auto xf = xc.to(torch::kFloat), Bf = Bm.to(torch::kFloat), Cf = Cm.to(torch::kFloat), Df = D_.to(torch::kFloat);
  // Both forms compute the same function; which is faster depends on the device (see scan.hpp).
  const bool parallel = c_.scan == "parallel" || (c_.scan == "auto" && xf.is_cuda());
  auto y = parallel ? scan_parallel(xf, delta, A, Bf, Cf, Df) : scan_sequential(xf, delta, A, Bf, Cf, Df);
  if (internals) {
    *internals = {{"ssm.x", xf.detach()}, {"ssm.delta", delta.detach()}, {"ssm.A", A.detach()},
                  {"ssm.B", Bf.detach()}, {"ssm.C", Cf.detach()},     {"ssm.D", Df.detach()},
                  {"ssm.y", y.detach()}};
    if (gate.defined()) (*internals)["gs.gate"] = gate.detach();
  }
  return out_proj_->forward(y * F::silu(z.to(torch::kFloat)));
}

}  // namespace mamba
