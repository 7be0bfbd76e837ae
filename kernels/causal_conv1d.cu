// Depthwise causal conv1d with optional fused SiLU, forward and backward, for kernel widths 1-4.
// One thread = one (batch row, channel, tile of kConvTile steps); the K inputs (and in backward the K output
// gradients) it needs slide through registers, so every element is read once; loads coalesce across channels.
// Backward recomputes the pre-activation instead of storing it. Weight/bias gradients: one partial per
// (batch row, tile), summed on the host (deterministic).
#include "causal_conv1d.hpp"
#include "common.cuh"

namespace repro::kernels {
namespace {
using namespace dev;

struct Lane {
  int b, c, t0;
  bool active;
  __device__ Lane(const ConvParams& p) {
    c = blockIdx.x * kConvThreads + threadIdx.x;
    active = c < p.channels;
    if (!active) c = p.channels - 1;
    t0 = blockIdx.y * kConvTile;
    b = blockIdx.z;
  }
};

template <typename T>
__device__ __forceinline__ float x_at(const ConvParams& p, int b, int t, int c) {
  return t < 0 ? 0.f : load(static_cast<const T*>(p.x.ptr) + b * p.x.batch + static_cast<int64_t>(t) * p.x.time + c);
}

// Shifts a register window left by one and appends v: w[K-1] is the newest.
template <int K>
__device__ __forceinline__ void push(float (&w)[K], float v) {
#pragma unroll
  for (int k = 0; k + 1 < K; ++k) w[k] = w[k + 1];
  w[K - 1] = v;
}

template <int K>
__device__ __forceinline__ float dot(const float (&w)[K], const float (&x)[K], float bias) {
  float acc = bias;
#pragma unroll
  for (int k = 0; k < K; ++k) acc += w[k] * x[k];
  return acc;
}

template <typename T, int K>
__global__ void __launch_bounds__(kConvThreads) conv_fwd(ConvParams p) {
  const Lane l(p);
  float w[K], xs[K];
#pragma unroll
  for (int k = 0; k < K; ++k) w[k] = p.weight[l.c * K + k], xs[k] = x_at<T>(p, l.b, l.t0 - K + k, l.c);
  const float bias = p.bias ? p.bias[l.c] : 0.f;
  T* out = static_cast<T*>(p.out);
  const int end = min(l.t0 + kConvTile, p.length);
  for (int t = l.t0; t < end; ++t) {
    push(xs, x_at<T>(p, l.b, t, l.c));
    const float pre = dot(w, xs, bias);
    if (l.active) store(out + (static_cast<int64_t>(l.b) * p.length + t) * p.channels + l.c, p.silu ? silu(pre) : pre);
  }
}

template <typename T, int K>
__global__ void __launch_bounds__(kConvThreads) conv_bwd(ConvParams p) {
  const Lane l(p);
  const int L = p.length, C = p.channels;
  float w[K], xs[K], gs[K], dw[K];
#pragma unroll
  for (int k = 0; k < K; ++k)
    w[k] = p.weight[l.c * K + k], xs[k] = x_at<T>(p, l.b, l.t0 - K + k, l.c), gs[k] = 0.f, dw[k] = 0.f;
  const float bias = p.bias ? p.bias[l.c] : 0.f;
  float db = 0.f;
  const T* dout = static_cast<const T*>(p.dout);
  T* dx = static_cast<T*>(p.dx);
  const int own_end = min(l.t0 + kConvTile, L);
  // g_tau = dLoss/dpre_tau for tau in this tile and the K - 1 steps after it (they reach back into the tile).
  for (int tau = l.t0; tau < own_end + K - 1; ++tau) {
    float g = 0.f;
    if (tau < L) {
      push(xs, x_at<T>(p, l.b, tau, l.c));
      g = load(dout + (static_cast<int64_t>(l.b) * L + tau) * C + l.c);
      if (p.silu) g *= silu_grad(dot(w, xs, bias));
      if (tau < own_end) {
#pragma unroll
        for (int k = 0; k < K; ++k) dw[k] += g * xs[k];
        db += g;
      }
    }
    push(gs, g);
    const int s = tau - K + 1;  // dx_s = sum_k w_k g_{s + K - 1 - k}, complete once g_tau is known
    if (s >= l.t0 && s < own_end && l.active) {
      float acc = 0.f;
#pragma unroll
      for (int k = 0; k < K; ++k) acc += w[k] * gs[K - 1 - k];
      store(dx + (static_cast<int64_t>(l.b) * L + s) * C + l.c, acc);
    }
  }
  if (!l.active) return;
  const int64_t row = (static_cast<int64_t>(l.b) * gridDim.y + blockIdx.y) * C + l.c;
#pragma unroll
  for (int k = 0; k < K; ++k) p.dweight_part[row * K + k] = dw[k];
  if (p.dbias_part) p.dbias_part[row] = db;
}

template <typename T, int K>
void launch(bool backward, const ConvParams& p, cudaStream_t s) {
  const dim3 grid((p.channels + kConvThreads - 1) / kConvThreads, conv_tiles(p.length), p.batch);
  if (backward)
    conv_bwd<T, K><<<grid, kConvThreads, 0, s>>>(p);
  else
    conv_fwd<T, K><<<grid, kConvThreads, 0, s>>>(p);
}

template <typename T>
void launch_width(bool backward, const ConvParams& p, cudaStream_t s) {
  switch (p.width) {
    case 1: return launch<T, 1>(backward, p, s);
    case 2: return launch<T, 2>(backward, p, s);
    case 3: return launch<T, 3>(backward, p, s);
    case 4: return launch<T, 4>(backward, p, s);
  }
}

void dispatch(bool backward, const ConvParams& p, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  if (p.bf16)
    launch_width<__nv_bfloat16>(backward, p, s);
  else
    launch_width<float>(backward, p, s);
}

}  // namespace

void causal_conv1d_fwd(const ConvParams& p, void* stream) { dispatch(false, p, stream); }
void causal_conv1d_bwd(const ConvParams& p, void* stream) { dispatch(true, p, stream); }

}  // namespace repro::kernels
