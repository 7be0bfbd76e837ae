// How a kernel sees a [batch, length, channels] tensor: unit channel stride, batch and time strides as given,
// so that narrow()ed views of a wider projection are read in place.
#pragma once
#include <cstdint>

// Callable from host and device code (the layout helpers are shared by both).
#ifdef __CUDACC__
#define REPRO_HD __host__ __device__
#else
#define REPRO_HD
#endif

namespace repro::kernels {

struct Strided {
  const void* ptr = nullptr;
  int64_t batch = 0, time = 0;
};

// Recurrences (scan, WKV) are differentiated without storing their states: the forward pass keeps the state
// at the end of every kSegment steps (fp32); the backward pass recomputes the states inside a segment from
// there, kSubchunk steps at a time in registers, and walks them backwards.
inline constexpr int kSegment = 64;
inline constexpr int kSubchunk = 8;
REPRO_HD inline int segments(int length) { return (length + kSegment - 1) / kSegment; }

}  // namespace repro::kernels
