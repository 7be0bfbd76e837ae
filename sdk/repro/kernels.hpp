// Our fused CUDA kernels (kernels/), reached by operator name through LibTorch's dispatcher, so a plugin
// links nothing but LibTorch. The host (repro, tests, benchmarks) links librepro_kernels, whose static
// registration defines the operators below with CUDA and autograd implementations; gradients flow
// through them like through any LibTorch op.
//
// Each wrapper returns an undefined tensor when it cannot run: the operator is absent (built without nvcc),
// an input is not on CUDA, or REPRO_KERNELS=off is set (to measure the pure-LibTorch path). The caller
// then takes its pure-LibTorch path, which stays the CPU implementation and the test oracle.
//
// Layout everywhere: [batch, length, channels], channels contiguous (the models' natural layout).
#pragma once
#include <cstdlib>
#include <cstring>
#include <optional>

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/torch.h>

namespace repro::kernels {

inline bool enabled() {
  const char* e = std::getenv("REPRO_KERNELS");
  return !(e && (std::strcmp(e, "off") == 0 || std::strcmp(e, "0") == 0));
}

inline std::optional<c10::OperatorHandle> find(const char* name) {
  return c10::Dispatcher::singleton().findOp({name, ""});
}

// The operator when it can run on x (CUDA tensor, kernels enabled, operator registered), else nullopt.
inline std::optional<c10::OperatorHandle> op_for(const char* name, const torch::Tensor& x) {
  if (!x.is_cuda() || !enabled()) return std::nullopt;
  return find(name);
}

// Mamba-1 selective scan, fp32 state:
//   delta = softplus(delta + delta_bias) if delta_softplus (bias optional), else delta as given
//   h_t = exp(delta_t A) h_{t-1} + delta_t B_t x_t;  y_t = C_t . h_t + D x_t;  out = y * SiLU(z) if z given
// x, delta, z [B, L, D]; A [D, N]; Bm, Cm [B, L, N]; D, delta_bias [D]. x, delta, Bm, Cm, z share one dtype
// (fp32 or bf16); A, D, delta_bias are fp32. Output: x's dtype. d_state values the kernel is not compiled for
// return undefined (LibTorch path); the kernels library answers which (selective_scan_supports), so no list of
// them lives here.
inline bool selective_scan_supports(int64_t d_state) {
  const auto op = find("repro::selective_scan_supports");
  return op && op->typed<bool(int64_t)>().call(d_state);
}

inline torch::Tensor selective_scan(const torch::Tensor& x, const torch::Tensor& delta, const torch::Tensor& A,
                                    const torch::Tensor& Bm, const torch::Tensor& Cm, const torch::Tensor& D,
                                    const std::optional<torch::Tensor>& z,
                                    const std::optional<torch::Tensor>& delta_bias, bool delta_softplus) {
  const auto op = op_for("repro::selective_scan", x);
  if (!op || !selective_scan_supports(A.size(-1))) return {};
  return op->typed<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                            const torch::Tensor&, const torch::Tensor&, const std::optional<torch::Tensor>&,
                            const std::optional<torch::Tensor>&, bool)>()
      .call(x, delta, A, Bm, Cm, D, z, delta_bias, delta_softplus);
}

// Depthwise causal conv1d: out[b, t, c] = act(bias[c] + sum_k weight[c, k] x[b, t - K + 1 + k, c]),
// act = SiLU if silu else identity. x [B, L, C] (its rows may be strided, e.g. a narrow() of a wider
// projection); weight [C, K] with K <= 4 (a longer kernel, e.g. Global Selection's, is left to LibTorch: the
// wrapper returns undefined); bias [C] optional. Output [B, L, C] contiguous, x's dtype.
inline torch::Tensor causal_conv1d(const torch::Tensor& x, const torch::Tensor& weight,
                                   const std::optional<torch::Tensor>& bias, bool silu) {
  if (weight.size(-1) > 4) return {};
  const auto op = op_for("repro::causal_conv1d", x);
  if (!op) return {};
  return op->typed<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const std::optional<torch::Tensor>&, bool)>()
      .call(x, weight, bias, silu);
}

// RWKV-4 WKV (numerically stable): w [C] < 0 the decay per step, u [C] the current token's bonus;
//   wkv_t = (sum_{i<t} e^{(t-1-i) w + k_i} v_i + e^{u + k_t} v_t) / (sum_{i<t} e^{(t-1-i) w + k_i} + e^{u + k_t})
// k, v [B, L, C] fp32. Output [B, L, C] fp32.
inline torch::Tensor wkv4(const torch::Tensor& w, const torch::Tensor& u, const torch::Tensor& k,
                          const torch::Tensor& v) {
  const auto op = op_for("repro::wkv4", k);
  if (!op) return {};
  return op->typed<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&, const torch::Tensor&)>()
      .call(w, u, k, v);
}

}  // namespace repro::kernels
