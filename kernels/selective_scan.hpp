// Launchers of the fused selective scan (selective_scan.cu); plain C++ so that ops.cpp needs no CUDA headers.
// Tensors are [batch, length, channels] with unit channel stride; batch and time strides are given so that
// narrow()ed views of a wider projection (x_proj's B and C, in_proj's z) are read in place.
#pragma once
#include <cstdint>

#include "layout.hpp"

namespace repro::kernels {

inline constexpr int kStatesPerThread = 4;  // a channel's d_state states spread over d_state / 4 lanes
inline constexpr int kScanThreads = 128;

struct ScanParams {
  int batch = 0, length = 0, channels = 0, states = 0;
  bool bf16 = false;  // x, B, C, z, out, dout, dx, dz are bf16 (else fp32); everything else is fp32
  Strided x, delta, Bm, Cm, z;  // delta fp32; z optional (ptr null)
  const float* A = nullptr;     // [D, N]
  const float* D = nullptr;     // [D]
  const float* delta_bias = nullptr;  // [D], optional
  bool softplus = false;
  void* out = nullptr;   // [B, L, D] contiguous
  float* ckpt = nullptr; // [B, nseg, D, N]; forward writes it when non-null, backward reads it

  // backward only
  const void* dout = nullptr;  // [B, L, D] contiguous
  void* dx = nullptr;          // [B, L, D]
  float* ddelta = nullptr;     // [B, L, D]
  void* dz = nullptr;          // [B, L, D], when z is given
  float* dB_part = nullptr;    // [channel blocks, B, L, N]: one partial sum per block of channels
  float* dC_part = nullptr;    // [channel blocks, B, L, N]
  float* dA_part = nullptr;    // [B, D, N]
  float* dD_part = nullptr;    // [B, D]
  float* dbias_part = nullptr; // [B, D], when delta_bias is given
};

// Channels one thread block covers (the partial sums of dB, dC are per block of channels).
inline int scan_channels_per_block(int states) { return kScanThreads / (states / kStatesPerThread); }
inline int scan_channel_blocks(int channels, int states) {
  const int c = scan_channels_per_block(states);
  return (channels + c - 1) / c;
}
// Steps per staged segment, which is also the forward's checkpoint interval ([B, segments, D, N]): 32, or 16 for
// sequences that short (the composite task's 9 tokens), whose blocks would otherwise stage mostly padding. 32 rather
// than 64 (measured on an H200, kernels/README.md: fwd+bwd 6-22 % faster at the Mamba-130M shapes): the backward
// keeps half as many sub-chunk starts in registers, at the cost of twice the checkpoints (B·L/32·D·N·4 bytes).
inline constexpr int kShortSegment = 16, kScanSegment = 32;
inline int scan_segment(int length) { return length <= kShortSegment ? kShortSegment : kScanSegment; }
inline int scan_segments(int length) { return (length + scan_segment(length) - 1) / scan_segment(length); }
// d_state values the kernel is compiled for.
inline bool scan_supports_states(int n) { return n == 16 || n == 32 || n == 64 || n == 128; }

void selective_scan_fwd(const ScanParams& p, void* stream);
void selective_scan_bwd(const ScanParams& p, void* stream);

}  // namespace repro::kernels
