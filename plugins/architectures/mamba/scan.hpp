// The selective scan of Mamba-1 and its attention-like matrix, in plain LibTorch (fp32).
//   h_t = exp(delta_t A) h_{t-1} + delta_t B_t x_t,   y_t = C_t . h_t + D x_t     (per channel d, state n)
// Shapes: x, delta [B, L, D]; A [D, N] (negative); Bm, Cm [B, L, N]; Dskip [D]. Returns y [B, L, D].
#pragma once
#include <repro/sdk.hpp>

namespace mamba {

// The recurrence, one time step after the other: the reference every other form is tested against.
torch::Tensor scan_sequential(const torch::Tensor& x, const torch::Tensor& delta, const torch::Tensor& A,
                              const torch::Tensor& Bm, const torch::Tensor& Cm, const torch::Tensor& Dskip);

// The same function as a log-depth (Hillis-Steele) scan over the pairs (exp(delta A), delta B x):
// ceil(log2 L) whole-tensor steps instead of L small ones, so the GPU stays busy; it keeps
// O(log L) [B, L, D, N] tensors for the backward pass (our CUDA kernels are the memory-lean path).
torch::Tensor scan_parallel(const torch::Tensor& x, const torch::Tensor& delta, const torch::Tensor& A,
                            const torch::Tensor& Bm, const torch::Tensor& Cm, const torch::Tensor& Dskip);

// Mean over channels of |alpha|, alpha^d_ij = C_i (prod_{k=j+1..i} exp(delta_k^d A^d)) delta_j^d B_j
// (the paper's Eq. 5; j <= i, zero above the diagonal): [B, L, L]. Channels are processed in chunks
// so the [B, L, L, chunk, N] decay tensor stays small.
torch::Tensor attention_like(const torch::Tensor& delta, const torch::Tensor& A, const torch::Tensor& Bm,
                             const torch::Tensor& Cm);

}  // namespace mamba
