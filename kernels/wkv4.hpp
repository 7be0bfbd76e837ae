// Launchers of RWKV-4's WKV (wkv4.cu); plain C++ for wkv_op.cpp. All tensors fp32; k, v, y [B, L, C] contiguous.
#pragma once
#include "layout.hpp"

namespace repro::kernels {

inline constexpr int kWkvThreads = 128;  // channels per block

struct WkvParams {
  int batch = 0, length = 0, channels = 0;
  const float* w = nullptr;  // [C], < 0
  const float* u = nullptr;  // [C]
  const float* k = nullptr;
  const float* v = nullptr;
  float* y = nullptr;
  float* ckpt = nullptr;  // [B, nseg, C, 3]: (a, b, p) at every segment end; written by forward when non-null
  // backward
  const float* dy = nullptr;
  float* dk = nullptr;
  float* dv = nullptr;
  float* dw_part = nullptr;  // [B, C]
  float* du_part = nullptr;  // [B, C]
};

void wkv4_fwd(const WkvParams& p, void* stream);
void wkv4_bwd(const WkvParams& p, void* stream);

}  // namespace repro::kernels
