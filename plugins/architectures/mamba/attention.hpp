// The attention-like matrix of a selective SSM layer (Local-Pattern-Shortcuts paper, Eq. 4-5; Ali et al.
// 2024, "The Hidden Attention of Mamba Models"): unrolling the recurrence gives, per channel d,
//   y^d_i = sum_{j <= i} alpha^d_ij x^d_j + D^d x^d_i,
//   alpha^d_ij = sum_n C_in exp(sum_{k=j+1..i} delta^d_k A^d_n) delta^d_j B_jn     (0 above the diagonal).
#pragma once
#include <repro/sdk.hpp>

namespace mamba {

// Per-channel alpha for the channels [d0, d0 + count): [B, count, L, L], fp32. Inputs as in scan.hpp.
// The decay is exp of a difference of cumulative sums of delta A, taken in fp64 (no cancellation between
// two long sums), masked to j <= i before the exp, so nothing overflows.
torch::Tensor attention_like(const torch::Tensor& delta, const torch::Tensor& A, const torch::Tensor& Bm,
                             const torch::Tensor& Cm, int64_t d0, int64_t count);

// The per-layer [B, L, L] matrix `mixing_matrices` returns: the mean over channels of |alpha^d|.
// The magnitude because channels weigh a token with either sign (a plain mean lets them cancel), as in the
// Hidden-Attention papers' plots of |alpha|; the mean so rows stay comparable across model widths.
// Channels are processed in slices so the [B, L, L, slice, N] decay tensor stays near 2^25 elements.
torch::Tensor mean_abs_attention(const torch::Tensor& delta, const torch::Tensor& A, const torch::Tensor& Bm,
                                 const torch::Tensor& Cm);

}  // namespace mamba
