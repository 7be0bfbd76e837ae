// The selective scan of Mamba-1 in plain LibTorch, always in fp32 (autocast is switched off inside):
//   h_t = exp(delta_t A) * h_{t-1} + delta_t B_t x_t     (per channel d and state n; h_{-1} = 0)
//   y_t = C_t . h_t + D x_t
// Shapes: x, delta [B, L, D]; A [D, N] (negative); Bm, Cm [B, L, N]; Dskip [D]. Returns y [B, L, D].
// Both forms compute the same function; tests/test_mamba.cpp checks that values and gradients agree.
#pragma once
#include <repro/sdk.hpp>

namespace mamba {

// The recurrence one time step after the other, differentiated by autograd: the reference.
// L small steps, so it is slow on a GPU (kernel launches); on a CPU it is the faster form.
torch::Tensor scan_sequential(const torch::Tensor& x, const torch::Tensor& delta, const torch::Tensor& A,
                              const torch::Tensor& Bm, const torch::Tensor& Cm, const torch::Tensor& Dskip);

// The same function through a work-efficient log-depth scan (see linear_scan) with a hand-written
// backward pass: the gradient of a linear recurrence is the same recurrence run backwards in time.
// Nothing of size [B, L, D, N] is kept for backward (the states are recomputed), so memory stays
// O(B L D) per layer between forward and backward, like the CUDA kernels of the Mamba paper.
torch::Tensor scan_parallel(const torch::Tensor& x, const torch::Tensor& delta, const torch::Tensor& A,
                            const torch::Tensor& Bm, const torch::Tensor& Cm, const torch::Tensor& Dskip);

// h_t = a_t * h_{t-1} + b_t along dim 1 (h_{-1} = 0), no autograd: O(L) work in ceil(log2 L) levels.
// Exposed for tests.
torch::Tensor linear_scan(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace mamba
