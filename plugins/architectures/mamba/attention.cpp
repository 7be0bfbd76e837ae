#include "attention.hpp"

#include <algorithm>
#include <cmath>

namespace mamba {
using torch::Tensor;

Tensor attention_like(const Tensor& delta, const Tensor& A, const Tensor& Bm, const Tensor& Cm, int64_t d0,
                      int64_t count) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  const int64_t L = delta.size(1);
  auto dt = delta.narrow(2, d0, count).to(torch::kDouble);                        // [B, L, c]
  auto S = torch::cumsum(dt.unsqueeze(-1) * A.narrow(0, d0, count).to(torch::kDouble), 1);  // [B, L, c, N]
  // log of prod_{k=j+1..i} exp(delta_k A) = S_i - S_j; above the diagonal it would be positive: mask first.
  auto above = torch::ones({L, L}, torch::dtype(torch::kBool).device(delta.device())).triu(1).view({1, L, L, 1, 1});
  auto decay = torch::exp((S.unsqueeze(2) - S.unsqueeze(1)).masked_fill(above, -INFINITY)).to(torch::kFloat);
  auto input = dt.to(torch::kFloat).unsqueeze(-1) * Bm.to(torch::kFloat).unsqueeze(2);  // delta_j B_j [B, L, c, N]
  return torch::einsum("bin,bijcn,bjcn->bcij", {Cm.to(torch::kFloat), decay, input});
}

Tensor mean_abs_attention(const Tensor& delta, const Tensor& A, const Tensor& Bm, const Tensor& Cm) {
  const int64_t B = delta.size(0), L = delta.size(1), D = delta.size(2), N = A.size(1);
  const int64_t slice = std::max<int64_t>(1, (int64_t{1} << 25) / std::max<int64_t>(1, B * L * L * N));
  auto sum = torch::zeros({B, L, L}, delta.options().dtype(torch::kFloat));
  for (int64_t d0 = 0; d0 < D; d0 += slice) {
    const int64_t c = std::min(slice, D - d0);
    sum += attention_like(delta, A, Bm, Cm, d0, c).abs().sum(1);
  }
  return sum / static_cast<double>(D);
}

}  // namespace mamba
