#include "info_flow.hpp"

#include <algorithm>
#include <cmath>

#include "../core/error.hpp"

namespace repro {

torch::Tensor info_flow_matrix(const std::map<std::string, torch::Tensor>& layer) {
  for (const char* k : {"ssm.delta", "ssm.A", "ssm.B", "ssm.C"})
    if (!layer.count(k)) throw StageError(std::string("info_flow: the layer exposes no \"") + k + "\" internal");
  const auto opt = torch::dtype(torch::kDouble);
  auto delta = layer.at("ssm.delta").to(torch::kCPU, torch::kDouble);  // [B, L, D]
  auto A = layer.at("ssm.A").to(torch::kCPU, torch::kDouble);          // [D, N]
  auto Bm = layer.at("ssm.B").to(torch::kCPU, torch::kDouble);         // [B, L, N]
  auto Cm = layer.at("ssm.C").to(torch::kCPU, torch::kDouble);         // [B, L, N]
  const int64_t B = delta.size(0), L = delta.size(1), D = delta.size(2), N = A.size(1);
  auto cum = torch::cumsum(delta.unsqueeze(-1) * A, 1);  // [B, L, D, N]: sum_{k<=i} delta_k A
  // exp(cum_i - cum_j) is the decay from j to i; above the diagonal the exponent would be positive.
  auto above = torch::ones({L, L}, opt.dtype(torch::kBool)).triu(1).view({1, L, L, 1, 1});
  auto sum = torch::zeros({B, L, L}, opt);
  // Channels in slices: the [B, L, L, c, N] decay tensor is the memory peak.
  const int64_t slice = std::max<int64_t>(1, (int64_t{1} << 24) / std::max<int64_t>(1, B * L * L * N));
  for (int64_t d0 = 0; d0 < D; d0 += slice) {
    const int64_t c = std::min(slice, D - d0);
    auto cs = cum.narrow(2, d0, c);
    auto decay = torch::exp((cs.unsqueeze(2) - cs.unsqueeze(1)).masked_fill(above, -INFINITY));
    sum += torch::einsum("bin,bijcn,bjn->bcij", {Cm, decay, Bm}).abs().sum(1);
  }
  return sum / static_cast<double>(D);
}

}  // namespace repro
