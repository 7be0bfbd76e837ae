// RWKV-4's WKV operator, per channel c (w_c < 0 the decay, u_c the bonus of the current token):
//   wkv_t = (sum_{i<t} e^{(t-1-i) w + k_i} v_i + e^{u + k_t} v_t) / (sum_{i<t} e^{(t-1-i) w + k_i} + e^{u + k_t})
// i.e. a softmax over positions i <= t of the logits l(t, i) = (t-1-i) w + k_i (i < t), u + k_t (i = t),
// applied to v. Both forms below are exact in fp32 for any w, u, k: they never exponentiate an
// unnormalised sum, so large decays, large keys and long sequences do not overflow.
// Inputs: w, u [C] float; k, v [B, L, C] float. Output [B, L, C] float.
#pragma once
#include <torch/torch.h>

namespace rwkv {

// Reference: the recurrence over time with the running-maximum state (a, b, p) of RWKV-4's kernel.
torch::Tensor wkv_recurrent(const torch::Tensor& w, const torch::Tensor& u, const torch::Tensor& k,
                            const torch::Tensor& v);

// Training form: chunks of `chunk` positions; inside a chunk the causal logits are materialised
// ([B, L/chunk, chunk, chunk, C]), across chunks a log-space state (log-normaliser, mean) is carried by
// the same softmax at chunk granularity, so there is no sequential loop. chunk >= L is the fully
// materialised [L, L] form.
torch::Tensor wkv_parallel(const torch::Tensor& w, const torch::Tensor& u, const torch::Tensor& k,
                           const torch::Tensor& v, int64_t chunk);

// The normalised WKV weights softmax_i l(t, i), averaged over channels: [B, L, L], rows sum to 1.
torch::Tensor wkv_weights(const torch::Tensor& w, const torch::Tensor& u, const torch::Tensor& k);

}  // namespace rwkv
