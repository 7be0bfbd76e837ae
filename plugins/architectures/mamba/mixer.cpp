#include "mixer.hpp"

#include <cmath>

#include <repro/layers.hpp>

#include "scan.hpp"

namespace mamba {
namespace F = torch::nn::functional;
using torch::Tensor;

using repro::layers::causal_conv;
using repro::layers::depthwise_conv;

MixerImpl::MixerImpl(const MixerConfig& c) : c_(c) {
  using torch::nn::LinearOptions;
  in_proj_ = register_module("in_proj", torch::nn::Linear(LinearOptions(c.d_model, 2 * c.d_inner).bias(false)));
  if (c.conv != "none") conv1d_ = register_module("conv1d", depthwise_conv(c.d_inner, c.d_conv));
  x_proj_ = register_module("x_proj", torch::nn::Linear(LinearOptions(c.d_inner, c.dt_rank + 2 * c.d_state).bias(false)));
  dt_proj_ = register_module("dt_proj", torch::nn::Linear(LinearOptions(c.dt_rank, c.d_inner).bias(true)));
  out_proj_ = register_module("out_proj", torch::nn::Linear(LinearOptions(c.d_inner, c.d_model).bias(false)));
  if (c.long_conv_kernel > 0) long_conv_ = register_module("long_conv", depthwise_conv(c.d_inner, c.long_conv_kernel));
  // S4D-real: A[d, n] = -(n + 1), stored as its log so that A stays negative under any update.
  A_log_ = register_parameter("A_log", torch::log(torch::arange(1, c.d_state + 1, torch::kFloat)).repeat({c.d_inner, 1}));
  D_ = register_parameter("D", torch::ones({c.d_inner}));

  // Linear and conv weights keep LibTorch's default init (PyTorch's, as HF). dt_proj as Mamba/HF: weight
  // U(-r^-1/2, r^-1/2); bias = softplus^-1(dt) with dt log-uniform in [dt_min, dt_max], floored, so that
  // the initial delta spans the chosen range of time scales.
  torch::NoGradGuard ng;
  const double w = std::pow(static_cast<double>(c.dt_rank), -0.5);
  dt_proj_->weight.uniform_(-w, w);
  auto dt = torch::exp(torch::rand({c.d_inner}, torch::kDouble) * (std::log(c.dt_max) - std::log(c.dt_min)) +
                       std::log(c.dt_min))
                .clamp_min(c.dt_init_floor);
  dt_proj_->bias.copy_(dt + torch::log(-torch::expm1(-dt)));  // softplus^-1(dt) = dt + log(1 - e^-dt)
  if (c.conv == "ones") {
    conv1d_->weight.fill_(1.0).set_requires_grad(false);
    conv1d_->bias.zero_().set_requires_grad(false);
  }
}

Tensor MixerImpl::ssm_input(const Tensor& x) {
  if (!conv1d_) return F::silu(x);
  auto xc = causal_conv(conv1d_, x, /*silu=*/true);
  return c_.conv == "residual" ? xc + x : xc;
}

Tensor MixerImpl::forward(const Tensor& u, std::map<std::string, Tensor>* internals,
                          const repro::sdk::SsmIntervention* iv, const std::map<std::string, Tensor>* donor) {
  const int64_t R = c_.dt_rank, N = c_.d_state;
  auto xz = in_proj_->forward(u);
  auto x = xz.narrow(-1, 0, c_.d_inner), z = xz.narrow(-1, c_.d_inner, c_.d_inner);
  auto xc = ssm_input(x);  // [B, L, d_inner]
  if (iv && iv->substitute.defined())
    xc = torch::where(iv->substitute.to(xc.device()).unsqueeze(-1), donor->at("ssm.x").to(xc.device(), xc.scalar_type()), xc);
  auto proj = x_proj_->forward(xc);
  auto dt_low = proj.narrow(-1, 0, R), Bm = proj.narrow(-1, R, N), Cm = proj.narrow(-1, R + N, N);
  // delta's pre-activation without the bias, so Global Selection can scale it first (released code).
  auto dt_pre = torch::matmul(dt_low, dt_proj_->weight.t()).to(torch::kFloat);
  Tensor gate;
  if (long_conv_) {
    gate = causal_conv(long_conv_, x, /*silu=*/true).to(torch::kFloat);
    dt_pre = dt_pre * gate;
  }
  auto A = -torch::exp(A_log_.to(torch::kFloat));
  if (!internals && !iv && c_.scan == "auto") {  // fused CUDA scan: softplus, D skip and SiLU(z) gate inside
    auto gated = repro::kernels::selective_scan(xc, dt_pre, A, Bm, Cm, D_, z, dt_proj_->bias, true);
    if (gated.defined()) return out_proj_->forward(gated);
  }
  auto delta = F::softplus(dt_pre + dt_proj_->bias.to(torch::kFloat));
  const bool parallel = c_.scan == "parallel" || (c_.scan == "auto" && u.is_cuda());
  const auto scan = parallel ? scan_parallel : scan_sequential;
  auto y = scan(xc, delta, A, Bm, Cm, D_);
  if (iv && iv->block_from.defined()) {
    // The state's input at j is delta_j B_j x_j: without the sources' x the scan leaves out exactly their S[i, j]
    // terms; the targets take that output (their own D skip is intact, as no target is a source).
    auto keep = (~iv->block_from.to(xc.device())).unsqueeze(-1).to(xc.scalar_type());
    auto cut = scan(xc * keep, delta, A, Bm, Cm, D_);
    y = torch::where(iv->block_to.to(y.device()).unsqueeze(-1), cut, y);
  }
  if (internals) {
    auto keep = [](const Tensor& t) { return t.detach().to(torch::kFloat); };
    *internals = {{"ssm.x", keep(xc)}, {"ssm.delta", keep(delta)}, {"ssm.A", keep(A)}, {"ssm.B", keep(Bm)},
                  {"ssm.C", keep(Cm)}, {"ssm.D", keep(D_)},        {"ssm.y", keep(y)}};
    if (gate.defined()) (*internals)["gs.gate"] = keep(gate);
  }
  return out_proj_->forward(y * F::silu(z.to(torch::kFloat)));
}

}  // namespace mamba
