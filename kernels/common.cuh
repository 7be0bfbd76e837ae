// Device helpers shared by our kernels: fp32/bf16 loads and stores, activations, lane reductions.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace repro::kernels::dev {

template <typename T>
__device__ __forceinline__ float load(const T* p);
template <>
__device__ __forceinline__ float load<float>(const float* p) { return __ldg(p); }
template <>
__device__ __forceinline__ float load<__nv_bfloat16>(const __nv_bfloat16* p) { return __bfloat162float(__ldg(p)); }

template <typename T>
__device__ __forceinline__ void store(T* p, float v);
template <>
__device__ __forceinline__ void store<float>(float* p, float v) { *p = v; }
template <>
__device__ __forceinline__ void store<__nv_bfloat16>(__nv_bfloat16* p, float v) { *p = __float2bfloat16(v); }

__device__ __forceinline__ float sigmoid(float v) { return 1.f / (1.f + __expf(-v)); }
__device__ __forceinline__ float silu(float v) { return v * sigmoid(v); }
// d/dv silu(v) = s (1 + v (1 - s)), s = sigmoid(v)
__device__ __forceinline__ float silu_grad(float v) {
  const float s = sigmoid(v);
  return s * (1.f + v * (1.f - s));
}
// softplus as torch (threshold 20: linear above).
__device__ __forceinline__ float softplus(float v) { return v > 20.f ? v : log1pf(__expf(v)); }

// Sum over groups of G consecutive lanes (G a power of two <= 32); every lane of the group gets the sum.
template <int G>
__device__ __forceinline__ float group_sum(float v) {
#pragma unroll
  for (int o = G / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
// Sum over the lanes that share (lane % G), i.e. across the 32 / G groups of a warp.
template <int G>
__device__ __forceinline__ float across_groups_sum(float v) {
#pragma unroll
  for (int o = G; o < 32; o *= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

}  // namespace repro::kernels::dev
