#include "scan.hpp"

#include <algorithm>

namespace mamba {

torch::Tensor scan_sequential(const torch::Tensor& x, const torch::Tensor& delta, const torch::Tensor& A,
                              const torch::Tensor& Bm, const torch::Tensor& Cm, const torch::Tensor& Dskip) {
  const int64_t L = x.size(1);
  auto d = delta.unsqueeze(-1);                    // [B, L, D, 1]
  auto a = torch::exp(d * A);                      // decay of each step      [B, L, D, N]
  auto b = d * x.unsqueeze(-1) * Bm.unsqueeze(2);  // input of each step
  // unbind, not select: select's backward would write a full-size zero gradient for every step.
  const auto as = a.unbind(1), bs = b.unbind(1);
  auto h = torch::zeros_like(as[0]);
  std::vector<torch::Tensor> hs;
  hs.reserve(static_cast<size_t>(L));
  for (int64_t t = 0; t < L; ++t) hs.push_back(h = torch::addcmul(bs[t], as[t], h));
  return torch::matmul(torch::stack(hs, 1), Cm.unsqueeze(-1)).squeeze(-1) + x * Dskip;
}

torch::Tensor scan_parallel(const torch::Tensor& x, const torch::Tensor& delta, const torch::Tensor& A,
                            const torch::Tensor& Bm, const torch::Tensor& Cm, const torch::Tensor& Dskip) {
  const int64_t L = x.size(1);
  auto d = delta.unsqueeze(-1);                                   // [B, L, D, 1]
  auto a = torch::exp(d * A);                                     // decay of each step
  auto b = d * x.unsqueeze(-1) * Bm.unsqueeze(2);                 // input of each step
  // After the step with offset `off`, position t holds the composition of steps (t-2off, t].
  for (int64_t off = 1; off < L; off <<= 1) {
    auto a_prev = torch::cat({torch::ones_like(a.narrow(1, 0, off)), a.narrow(1, 0, L - off)}, 1);
    auto b_prev = torch::cat({torch::zeros_like(b.narrow(1, 0, off)), b.narrow(1, 0, L - off)}, 1);
    b = a * b_prev + b;
    a = a * a_prev;
  }
  auto y = torch::matmul(b, Cm.unsqueeze(-1)).squeeze(-1);        // [B, L, D]
  return y + x * Dskip;
}

torch::Tensor attention_like(const torch::Tensor& delta, const torch::Tensor& A, const torch::Tensor& Bm,
                             const torch::Tensor& Cm) {
  const int64_t B = delta.size(0), L = delta.size(1), D = delta.size(2), N = A.size(1);
  auto S = torch::cumsum(delta.unsqueeze(-1) * A, 1);  // [B, L, D, N]: log of the decay up to t
  auto above = torch::ones({L, L}, torch::dtype(torch::kBool).device(delta.device())).triu(1).view({1, L, L, 1, 1});
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 26) / std::max<int64_t>(1, B * L * L * N));
  auto acc = torch::zeros({B, L, L}, delta.options());
  for (int64_t d0 = 0; d0 < D; d0 += chunk) {
    const int64_t c = std::min(chunk, D - d0);
    auto s = S.narrow(2, d0, c);
    // exp(S_i - S_j) for j <= i; above the diagonal the difference is positive, so mask before exp.
    auto decay = torch::exp((s.unsqueeze(2) - s.unsqueeze(1)).masked_fill(above, -INFINITY));  // [B, i, j, c, N]
    auto inp = delta.narrow(2, d0, c).unsqueeze(-1) * Bm.unsqueeze(2);                        // [B, j, c, N]
    auto alpha = torch::einsum("bin,bijcn,bjcn->bcij", {Cm, decay, inp});                     // [B, c, i, j]
    acc += alpha.abs().sum(1);
  }
  return acc / static_cast<double>(D);
}

}  // namespace mamba
