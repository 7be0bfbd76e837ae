// Launchers of the depthwise causal conv1d (causal_conv1d.cu); plain C++ for conv_op.cpp.
#pragma once
#include "layout.hpp"

namespace repro::kernels {

inline constexpr int kConvThreads = 128;  // channels per block
inline constexpr int kConvTile = 64;      // time steps per thread
inline constexpr int kConvMaxWidth = 4;   // longer kernels (Global Selection's L/4) take LibTorch's conv

struct ConvParams {
  int batch = 0, length = 0, channels = 0, width = 0;
  bool bf16 = false;  // x, out, dout, dx are bf16 (else fp32); weight, bias and the partials are fp32
  bool silu = false;
  Strided x;
  const float* weight = nullptr;  // [C, K]
  const float* bias = nullptr;    // [C], optional
  void* out = nullptr;            // [B, L, C] contiguous
  // backward
  const void* dout = nullptr;     // [B, L, C] contiguous
  void* dx = nullptr;             // [B, L, C]
  float* dweight_part = nullptr;  // [B, tiles, C, K]
  float* dbias_part = nullptr;    // [B, tiles, C], when bias is given
};

inline int conv_tiles(int length) { return (length + kConvTile - 1) / kConvTile; }

void causal_conv1d_fwd(const ConvParams& p, void* stream);
void causal_conv1d_bwd(const ConvParams& p, void* stream);

}  // namespace repro::kernels
