// Building blocks several architecture plugins share (header-only, like the rest of the SDK).
#pragma once
#include <torch/torch.h>

#include "kernels.hpp"

namespace repro::layers {

// Depthwise convolution over time with bias; `causal_conv` makes it causal (the output at t sees x_{t-k+1..t}).
inline torch::nn::Conv1d depthwise_conv(int64_t channels, int64_t k) {
  return torch::nn::Conv1d(torch::nn::Conv1dOptions(channels, channels, k).groups(channels).bias(true));
}

// The causal depthwise conv as an FFT product (fp32): conv1d correlates, so the filter is the flipped weight;
// a transform of length >= L + k - 1 makes the circular product linear.
inline torch::Tensor causal_conv_fft(torch::nn::Conv1d& conv, const torch::Tensor& x) {
  const int64_t L = x.size(1), k = conv->options.kernel_size()->at(0);
  int64_t n = 1;
  while (n < L + k - 1) n *= 2;
  auto xf = torch::fft::rfft(x.transpose(1, 2).to(torch::kFloat), n);
  auto wf = torch::fft::rfft(conv->weight.squeeze(1).to(torch::kFloat).flip(-1), n);
  auto y = torch::fft::irfft(xf * wf, n).narrow(-1, 0, L) + conv->bias.to(torch::kFloat).unsqueeze(-1);
  return y.transpose(1, 2).to(x.scalar_type());
}

// x [B, L, C] -> act(causal depthwise conv of x) [B, L, C], act = SiLU or identity. On CUDA: our fused kernel for
// k <= 4, the FFT form for longer kernels (Global Selection's L/4: 6.8 vs 17.2 ms fwd+bwd with cuDNN at B=64,
// L=512, k=128 on an H100, results/bench/); else (CPU, or REPRO_KERNELS=off) LibTorch's conv1d on a left-padded input.
inline torch::Tensor causal_conv(torch::nn::Conv1d& conv, const torch::Tensor& x, bool silu) {
  namespace F = torch::nn::functional;
  auto fused = kernels::causal_conv1d(x, conv->weight.squeeze(1), conv->bias, silu);
  if (fused.defined()) return fused;
  const int64_t k = conv->options.kernel_size()->at(0);
  torch::Tensor y;
  if (x.is_cuda() && k > 4 && kernels::enabled())
    y = causal_conv_fft(conv, x);
  else
    y = conv->forward(F::pad(x.transpose(1, 2), F::PadFuncOptions({k - 1, 0}))).transpose(1, 2);
  return silu ? F::silu(y) : y;
}

}  // namespace repro::layers
