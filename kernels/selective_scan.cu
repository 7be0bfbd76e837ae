// Fused selective scan of Mamba-1 (see <repro/kernels.hpp> for the function), forward and backward.
//
// Work split: one thread block = one batch row x (128 / G) channels; a channel's N states (16-128) are spread over
// G = N / 4 neighbouring lanes (4 states in registers each), so a thread walks its channel along time with
// its 4 states in registers; y needs one G-lane sum per step.
//
// Memory: the recurrence is sequential, so the inputs of a whole segment (S steps of the block's
// channels, and of B and C) are first staged in shared memory with coalesced loads issued together; the
// steps then read shared memory only. softplus(delta + bias) is applied once while staging. Where every input is
// aligned to four elements (quads_ok) the segment is staged four elements per load and the forward's y written the
// same way (stage_quads, write_quads; the default since 2026-12-07, REPRO_SCAN_STAGING=elements turns it off).
//
// Backward without storing states: the forward pass keeps the state every S steps (fp32); backward walks
// the segments from the last, recomputes the states of a segment (first the start of each kSubchunk, then a
// sub-chunk's states in registers) and runs the adjoint recurrence g_t = C_t dy_t + exp(delta_{t+1} A) g_{t+1}
// backwards through them. dB and dC sum over channels: a warp reduce-scatter into one shared-memory slot per
// warp (plain stores: at d_state 128 a warp is one channel, and shared-memory float atomics across the block's
// warps cost more than the scan), the warps' slots added per sub-chunk, and one partial sum per block of channels
// in global memory (the host adds the partials). Every sum has a fixed order: the gradients are deterministic.
// At d_state 16 the backward has three builds (REPRO_SCAN_BWD, kernels/info.hpp): the sub-chunk starts in registers
// (5 blocks per SM), in shared memory (5 blocks, no spills), or, the default, in shared memory with 4-step
// sub-chunks, which fits 80 registers and so 6 blocks per SM — enough for B=16 L=2048 D=1536 (768 blocks) to run
// in one wave.
#include <cstddef>
#include <cstdint>

#include "common.cuh"
#include "info.hpp"
#include "selective_scan.hpp"

namespace repro::kernels {
namespace {
using namespace dev;
constexpr int P = kStatesPerThread;
constexpr float kLog2e = 1.4426950408889634f;

// The lane's place: batch row b, block's first channel c0, channel d (clamped to a valid one; `active` says
// whether it is real), its index ch within the block, group lane g (which 4 states), index c within the warp.
template <int G>
struct Place {
  static constexpr int kChannels = kScanThreads / G;  // per block
  int b, c0, d, ch, g, c;
  bool active;
  __device__ explicit Place(const ScanParams& p) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    g = lane % G;
    c = lane / G;
    ch = warp * (32 / G) + c;
    c0 = blockIdx.x * kChannels;
    active = c0 + ch < p.channels;
    d = active ? c0 + ch : p.channels - 1;
    b = blockIdx.y;
  }
};

template <typename T>
__device__ __forceinline__ float at(const Strided& s, int b, int t, int i) {
  return load(static_cast<const T*>(s.ptr) + b * s.batch + static_cast<int64_t>(t) * s.time + i);
}

// One segment of the block's inputs in shared memory (zeros past the end of the sequence). dy comes last: the
// forward, which has none, is launched with the bytes before it (a fifth less shared memory per block).
template <int G, int S>
struct Stage {
  static constexpr int kC = kScanThreads / G, kN = P * G;
  float x[S][kC], dt[S][kC], z[S][kC];
  float4 B[S][G], C[S][G];
  float dy[S][kC];
};

template <typename T, int G, int S>
__device__ void stage(Stage<G, S>& s, const ScanParams& p, int b, int c0, int t0, bool with_dy) {
  constexpr int kC = Stage<G, S>::kC, kN = Stage<G, S>::kN;
  const int L = p.length, D = p.channels;
  for (int e = threadIdx.x; e < S * kC; e += kScanThreads) {
    const int i = e / kC, ch = e % kC, t = t0 + i, c = c0 + ch;
    const bool ok = t < L && c < D;
    s.x[i][ch] = ok ? at<T>(p.x, b, t, c) : 0.f;
    const float raw = ok ? at<float>(p.delta, b, t, c) + (p.delta_bias ? p.delta_bias[c] : 0.f) : 0.f;
    s.dt[i][ch] = p.softplus ? softplus(raw) : raw;
    if (p.z.ptr) s.z[i][ch] = ok ? at<T>(p.z, b, t, c) : 0.f;
    if (with_dy) s.dy[i][ch] = ok ? load(static_cast<const T*>(p.dout) + (static_cast<int64_t>(b) * L + t) * D + c) : 0.f;
  }
  for (int e = threadIdx.x; e < S * kN; e += kScanThreads) {
    const int i = e / kN, n = e % kN, t = t0 + i;
    (&s.B[i][0].x)[n] = t < L ? at<T>(p.Bm, b, t, n) : 0.f;
    (&s.C[i][0].x)[n] = t < L ? at<T>(p.Cm, b, t, n) : 0.f;
  }
}

// Four consecutive elements (channels or states) as floats, in one load: 16 bytes of fp32, 8 of bf16.
__device__ __forceinline__ float4 load4(const float* p) { return __ldg(reinterpret_cast<const float4*>(p)); }
__device__ __forceinline__ float4 load4(const __nv_bfloat16* p) {
  const uint2 u = __ldg(reinterpret_cast<const uint2*>(p));
  const float2 lo = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.x)),
               hi = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.y));
  return make_float4(lo.x, lo.y, hi.x, hi.y);
}
template <typename T>
__device__ __forceinline__ float4 at4(const Strided& s, int b, int t, int i) {
  return load4(static_cast<const T*>(s.ptr) + b * s.batch + static_cast<int64_t>(t) * s.time + i);
}
__device__ __forceinline__ void store4(float* p, float4 v) { *reinterpret_cast<float4*>(p) = v; }
__device__ __forceinline__ void store4(__nv_bfloat16* p, float4 v) {
  const __nv_bfloat162 lo = __floats2bfloat162_rn(v.x, v.y), hi = __floats2bfloat162_rn(v.z, v.w);
  uint2 u;
  u.x = *reinterpret_cast<const unsigned*>(&lo), u.y = *reinterpret_cast<const unsigned*>(&hi);
  *reinterpret_cast<uint2*>(p) = u;
}
__device__ __forceinline__ float4 softplus4(float4 v, bool on) {
  return on ? make_float4(softplus(v.x), softplus(v.y), softplus(v.z), softplus(v.w)) : v;
}
__device__ __forceinline__ float4 silu4(float4 v) { return make_float4(silu(v.x), silu(v.y), silu(v.z), silu(v.w)); }

// The same segment staged four elements per load (when every input is aligned to four elements: quads_ok), a
// thread's loads all issued before any is used, so that a segment costs one memory latency instead of one per
// element (Nsight Compute: 39 % of the forward's stalls waited on the element-wise staging's loads). Kernels that
// stage this way also write their outputs four channels per store (write_quads).
template <typename T, int G, int S>
__device__ void stage_quads(Stage<G, S>& s, const ScanParams& p, int b, int c0, int t0, bool with_dy) {
  constexpr int kC = Stage<G, S>::kC, kQ = kC / 4, kItems = S * kQ, kPer = (kItems + kScanThreads - 1) / kScanThreads;
  const int L = p.length, D = p.channels;
  const float4 zero = make_float4(0.f, 0.f, 0.f, 0.f);
  float4 x[kPer], dt[kPer], z[kPer], dy[kPer];
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int e = threadIdx.x + k * kScanThreads, i = e / kQ, t = t0 + i, c = c0 + (e % kQ) * 4;
    const bool ok = e < kItems && t < L && c < D;  // D % 4 == 0: a quad is all in or all out
    x[k] = ok ? at4<T>(p.x, b, t, c) : zero;
    dt[k] = ok ? at4<float>(p.delta, b, t, c) : zero;
    z[k] = ok && p.z.ptr ? at4<T>(p.z, b, t, c) : zero;
    dy[k] = ok && with_dy ? load4(static_cast<const T*>(p.dout) + (static_cast<int64_t>(b) * L + t) * D + c) : zero;
  }
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int e = threadIdx.x + k * kScanThreads, i = e / kQ, q = e % kQ;
    if (e >= kItems) break;
    const bool ok = t0 + i < L && c0 + q * 4 < D;
    float4 d = dt[k];
    if (ok && p.delta_bias) {  // [D]: in L1 after the first segment
      const float4 bias = load4(p.delta_bias + c0 + q * 4);
      d = make_float4(d.x + bias.x, d.y + bias.y, d.z + bias.z, d.w + bias.w);
    }
    *reinterpret_cast<float4*>(&s.x[i][q * 4]) = x[k];
    *reinterpret_cast<float4*>(&s.dt[i][q * 4]) = ok ? softplus4(d, p.softplus) : zero;
    // The forward needs only SiLU(z), once per element here instead of once per lane of the channel's group.
    if (p.z.ptr) *reinterpret_cast<float4*>(&s.z[i][q * 4]) = with_dy ? z[k] : silu4(z[k]);
    if (with_dy) *reinterpret_cast<float4*>(&s.dy[i][q * 4]) = dy[k];
  }
  // B and C: G quads per step; at most 4 of each per thread in flight (64 registers at d_state 128 otherwise).
  constexpr int kBC = S * G, kRound = 4 * kScanThreads;
  for (int base = 0; base < kBC; base += kRound) {
    float4 Bq[4], Cq[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int e = base + threadIdx.x + k * kScanThreads, i = e / G, t = t0 + i;
      const bool ok = e < kBC && t < L;
      Bq[k] = ok ? at4<T>(p.Bm, b, t, (e % G) * 4) : zero;
      Cq[k] = ok ? at4<T>(p.Cm, b, t, (e % G) * 4) : zero;
    }
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int e = base + threadIdx.x + k * kScanThreads;
      if (e < kBC) s.B[e / G][e % G] = Bq[k], s.C[e / G][e % G] = Cq[k];
    }
  }
}

__device__ __forceinline__ float get(const float4& v, int j) { return (&v.x)[j]; }

// h <- exp(dt A) h + dt B x for the lane's 4 states (A2 = A log2 e).
__device__ __forceinline__ void advance(float (&h)[P], float dt, float x, const float4& B, const float (&A2)[P]) {
#pragma unroll
  for (int j = 0; j < P; ++j) h[j] = exp2f(dt * A2[j]) * h[j] + dt * get(B, j) * x;
}

__device__ __forceinline__ float readout(const float (&h)[P], const float4& C) {
  return get(C, 0) * h[0] + get(C, 1) * h[1] + get(C, 2) * h[2] + get(C, 3) * h[3];
}

// The forward's outputs of a segment, staged in s.x by stage_quads' kernels, to [B, L, D] four channels per store.
template <typename T, int G, int S>
__device__ __forceinline__ void write_quads(const Stage<G, S>& s, T* out, int b, int c0, int t0, int L, int D) {
  constexpr int kQ = Stage<G, S>::kC / 4;
  for (int e = threadIdx.x; e < S * kQ; e += kScanThreads) {
    const int i = e / kQ, q = e % kQ, t = t0 + i, c = c0 + q * 4;
    if (t < L && c < D) store4(out + (static_cast<int64_t>(b) * L + t) * D + c, *reinterpret_cast<const float4*>(&s.x[i][q * 4]));
  }
}

// Which staging a kernel instance uses (Q: stage_quads, chosen per call on the host: see dispatch()).
template <typename T, int G, int S, bool Q>
__device__ __forceinline__ void stage_segment(Stage<G, S>& s, const ScanParams& p, int b, int c0, int t0, bool dy) {
  if constexpr (Q) stage_quads<T, G, S>(s, p, b, c0, t0, dy);
  else stage<T, G, S>(s, p, b, c0, t0, dy);
}

// The staged segment lives in dynamic shared memory, sized per instance (at d_state 128, 32 steps: 34 KB; 64 steps
// would take 68, over the 48 KB a static declaration may hold); launch() opts each kernel in to the size it needs.
template <int G, int S>
__device__ __forceinline__ Stage<G, S>& staged() {
  extern __shared__ float4 smem[];
  return *reinterpret_cast<Stage<G, S>*>(smem);
}

// Registers (ptxas, sm_90, d_state 16): 64 element-wise, 77 quad-staged (6 blocks per SM instead of 8; held to 64 by
// __launch_bounds__(128, 8) it spilled 20 bytes — to be measured; an explicit minimum of 1 block, by contrast, makes
// ptxas take 120 here).
template <typename T, int G, int S, bool Q>
__global__ void __launch_bounds__(kScanThreads) scan_fwd(ScanParams p) {
  Stage<G, S>& s = staged<G, S>();
  const Place<G> w(p);
  const int L = p.length, D = p.channels, N = p.states, nseg = (L + S - 1) / S;
  float A2[P], h[P];
#pragma unroll
  for (int j = 0; j < P; ++j) A2[j] = p.A[w.d * N + w.g * P + j] * kLog2e, h[j] = 0.f;
  const float Dd = p.D[w.d];
  T* out = static_cast<T*>(p.out);
  for (int seg = 0; seg < nseg; ++seg) {
    const int t0 = seg * S, n = min(S, L - t0);
    __syncthreads();  // the previous segment is consumed
    stage_segment<T, G, S, Q>(s, p, w.b, w.c0, t0, false);
    __syncthreads();
    for (int i = 0; i < n; ++i) {
      const float x = s.x[i][w.ch];
      advance(h, s.dt[i][w.ch], x, s.B[i][w.g], A2);
      float y = group_sum<G>(readout(h, s.C[i][w.g])) + Dd * x;
      if constexpr (Q) {
        // SiLU(z) was applied while staging; y replaces x (read by the group's lanes before the shuffles above)
        // and leaves in coalesced rows after the segment.
        if (p.z.ptr) y *= s.z[i][w.ch];
        if (w.g == 0) s.x[i][w.ch] = y;
      } else {
        if (p.z.ptr) y *= silu(s.z[i][w.ch]);
        if (w.active && w.g == 0) store(out + (static_cast<int64_t>(w.b) * L + t0 + i) * D + w.d, y);
      }
    }
    if constexpr (Q) {
      __syncthreads();
      write_quads<T, G, S>(s, out, w.b, w.c0, t0, L, D);
    }
    if (p.ckpt && seg + 1 < nseg && w.active) {
      float* c = p.ckpt + ((static_cast<int64_t>(w.b) * nseg + seg) * D + w.d) * N + w.g * P;
      *reinterpret_cast<float4*>(c) = make_float4(h[0], h[1], h[2], h[3]);
    }
  }
}

// Sums v[0..7] over the warp's channel groups; afterwards lane (c, g) holds K = 8 / min(32/G, 8) sums, of
// value indices (c % R) * K + i (R = min(32/G, 8)). A reduce-scatter: ~8 shuffles instead of 8 log2(32/G).
template <int G>
__device__ __forceinline__ void reduce_scatter(float (&v)[2 * P], int c) {
  constexpr int per_warp = 32 / G, R = per_warp < 8 ? per_warp : 8;
  int n = 2 * P;
#pragma unroll
  for (int bit = R / 2; bit >= 1; bit /= 2, n /= 2) {
    const bool up = c & bit;
#pragma unroll
    for (int i = 0; i < n / 2; ++i) {
      const float send = up ? v[i] : v[i + n / 2], keep = up ? v[i + n / 2] : v[i];
      v[i] = keep + __shfl_xor_sync(0xffffffffu, send, bit * G);
    }
  }
#pragma unroll
  for (int bit = 8; bit < per_warp; bit *= 2)
#pragma unroll
    for (int i = 0; i < 2 * P / R; ++i) v[i] += __shfl_xor_sync(0xffffffffu, v[i], bit * G);
}

// V: the backward's build (ScanBwdBuild; only d_state 16 has a choice, see scan_bwd()): whether each sub-chunk's
// starting state stays in registers or in the thread's own shared-memory slots, and the sub-chunk's length.
template <typename T, int G, int S, bool Q, int V>
__device__ __forceinline__ void scan_bwd_body(const ScanParams& p) {
  constexpr bool kSmemStarts = V != static_cast<int>(ScanBwdBuild::regs);
  constexpr int kSub = V == static_cast<int>(ScanBwdBuild::smem6) ? 4 : kSubchunk;
  constexpr int kSubs = S / kSub, kN = P * G, per_warp = 32 / G, R = per_warp < 8 ? per_warp : 8,
                K = 2 * P / R, kWarps = kScanThreads / 32;
  Stage<G, S>& s = staged<G, S>();
  // Per warp and step of a sub-chunk: the warp's sums of dB (states 0..kN-1) and dC (kN..2kN-1); every entry of
  // a step that exists is written before it is read, so the slots need no clearing.
  __shared__ float slot[kWarps][kSub][2 * kN];
  // The shared-memory builds' sub-chunk starts but the first (re-read from the checkpoint: 2 KB less a block,
  // which the sixth block per SM needs), one float4 per thread; only the thread that writes a slot reads it.
  __shared__ float4 starts[kSmemStarts ? kSubs - 1 : 1][kScanThreads];
  const Place<G> w(p);
  const int L = p.length, D = p.channels, nseg = (L + S - 1) / S, warp = threadIdx.x / 32;

  float A[P], A2[P], dh[P], dA[P];
#pragma unroll
  for (int j = 0; j < P; ++j) A[j] = p.A[w.d * kN + w.g * P + j], A2[j] = A[j] * kLog2e, dh[j] = dA[j] = 0.f;
  const float Dd = p.D[w.d];
  float dD = 0.f, dbias = 0.f;
  const int64_t part = (static_cast<int64_t>(blockIdx.x) * p.batch + w.b) * L;  // row of this block's partials

  for (int seg = nseg - 1; seg >= 0; --seg) {
    const int ts = seg * S;
    __syncthreads();
    stage_segment<T, G, S, Q>(s, p, w.b, w.c0, ts, true);
    __syncthreads();
    // The state entering each sub-chunk of the segment, recomputed from the segment's checkpoint.
    const float* ck = seg == 0 ? nullptr : p.ckpt + ((static_cast<int64_t>(w.b) * nseg + seg - 1) * D + w.d) * kN + w.g * P;
    auto entry = [&] { return ck ? *reinterpret_cast<const float4*>(ck) : make_float4(0.f, 0.f, 0.f, 0.f); };
    float hsub[kSmemStarts ? 1 : kSubs][P];  // the register build's starts
    {
      const float4 c = entry();
      float h[P] = {c.x, c.y, c.z, c.w};
#pragma unroll
      for (int k = 0; k < kSubs; ++k) {
        if constexpr (kSmemStarts) {
          if (k > 0) starts[k - 1][threadIdx.x] = make_float4(h[0], h[1], h[2], h[3]);
        } else {
#pragma unroll
          for (int j = 0; j < P; ++j) hsub[k][j] = h[j];
        }
        if (k + 1 < kSubs)
          for (int i = k * kSub; i < (k + 1) * kSub; ++i) advance(h, s.dt[i][w.ch], s.x[i][w.ch], s.B[i][w.g], A2);
      }
    }
    auto start = [&](int k, int j) {
      if constexpr (kSmemStarts) return get(k == 0 ? entry() : starts[k > 0 ? k - 1 : 0][threadIdx.x], j);
      else return hsub[k][j];
    };

#pragma unroll
    for (int k = kSubs - 1; k >= 0; --k) {
      const int t0 = ts + k * kSub;
      if (t0 >= L) continue;
      float hs[kSub][P];  // the state after each step of the sub-chunk
      {
        float h[P];
#pragma unroll
        for (int j = 0; j < P; ++j) h[j] = start(k, j);
#pragma unroll
        for (int i = 0; i < kSub; ++i) {
          const int r = k * kSub + i;
          advance(h, s.dt[r][w.ch], s.x[r][w.ch], s.B[r][w.g], A2);
#pragma unroll
          for (int j = 0; j < P; ++j) hs[i][j] = h[j];
        }
      }
#pragma unroll
      for (int i = kSub - 1; i >= 0; --i) {
        const int t = t0 + i, r = k * kSub + i;
        if (t >= L) continue;
        const float x = s.x[r][w.ch], dt = s.dt[r][w.ch];
        const float4 Bv = s.B[r][w.g], Cv = s.C[r][w.g];
        const int64_t o = (static_cast<int64_t>(w.b) * L + t) * D + w.d;
        float dy = s.dy[r][w.ch];
        if (p.z.ptr) {
          const float zv = s.z[r][w.ch];
          const float y = group_sum<G>(readout(hs[i], Cv)) + Dd * x;
          if (w.active && w.g == 0) store(static_cast<T*>(p.dz) + o, dy * y * silu_grad(zv));
          dy *= silu(zv);
        }
        dD += dy * x;
        float v[2 * P], ddt = 0.f, dx = 0.f;
#pragma unroll
        for (int j = 0; j < P; ++j) {
          const float prev = i > 0 ? hs[i > 0 ? i - 1 : 0][j] : start(k, j);
          const float a = exp2f(dt * A2[j]);
          dh[j] += get(Cv, j) * dy;
          v[P + j] = dy * hs[i][j];     // dC
          v[j] = dh[j] * dt * x;        // dB
          const float ga = dh[j] * a * prev;  // dLoss / d(dt A)
          ddt += ga * A[j] + dh[j] * get(Bv, j) * x;
          dA[j] += ga * dt;
          dx += dh[j] * dt * get(Bv, j);
          dh[j] *= a;  // carried to step t - 1
        }
        ddt = group_sum<G>(ddt);
        dx = group_sum<G>(dx) + Dd * dy;
        if (p.softplus) ddt *= -expm1f(-dt);  // softplus'(v) = sigmoid(v) = 1 - e^{-softplus(v)}
        dbias += ddt;
        if (w.active && w.g == 0) {
          store(static_cast<T*>(p.dx) + o, dx);
          p.ddelta[o] = ddt;
        }
        if (!w.active) {
#pragma unroll
          for (int j = 0; j < 2 * P; ++j) v[j] = 0.f;
        }
        reduce_scatter<G>(v, w.c);
        if (w.c < R) {
#pragma unroll
          for (int q = 0; q < K; ++q) {
            const int idx = (w.c % R) * K + q, j = idx % P;
            slot[warp][i][(idx < P ? 0 : kN) + w.g * P + j] = v[q];
          }
        }
      }
      __syncthreads();
      for (int e = threadIdx.x; e < kSub * 2 * kN; e += blockDim.x) {
        const int i = e / (2 * kN), n = e % (2 * kN);
        if (t0 + i >= L) continue;
        float sum = 0.f;
#pragma unroll
        for (int q = 0; q < kWarps; ++q) sum += slot[q][i][n];
        (n < kN ? p.dB_part : p.dC_part)[(part + t0 + i) * kN + n % kN] = sum;
      }
      __syncthreads();  // the slots are rewritten by the next sub-chunk
    }
  }
  if (!w.active) return;
  const int64_t bd = static_cast<int64_t>(w.b) * D + w.d;
  *reinterpret_cast<float4*>(p.dA_part + bd * kN + w.g * P) = make_float4(dA[0], dA[1], dA[2], dA[3]);
  if (w.g == 0) {
    p.dD_part[bd] = dD;
    if (p.dbias_part) p.dbias_part[bd] = dbias;
  }
}

// The backward at d_state 16 is built for 5 blocks per SM (registers capped near 100, a few bytes spilled): on an
// H200 that took 10 % off fwd+bwd at B=64 L=512 D=1536 and added 1-5 % at B=16 L=2048. At larger
// d_state the staged segment limits the blocks per SM anyway and the cap cost 1-3 %, so the compiler chooses (an
// explicit minimum of 1 block made it take 222 registers: 2 blocks per SM).
template <typename T, int G, int S, bool Q, int V>
__global__ void __launch_bounds__(kScanThreads) scan_bwd_free(ScanParams p) { scan_bwd_body<T, G, S, Q, V>(p); }
template <typename T, int G, int S, bool Q, int V>
__global__ void __launch_bounds__(kScanThreads, 5) scan_bwd_5(ScanParams p) { scan_bwd_body<T, G, S, Q, V>(p); }
template <typename T, int G, int S, bool Q, int V>
__global__ void __launch_bounds__(kScanThreads, 6) scan_bwd_6(ScanParams p) { scan_bwd_body<T, G, S, Q, V>(p); }
template <typename T, int G, int S, bool Q, int V>
constexpr void (*scan_bwd())(ScanParams) {
  constexpr int regs = static_cast<int>(ScanBwdBuild::regs), smem6 = static_cast<int>(ScanBwdBuild::smem6);
  if constexpr (G != 4) return scan_bwd_free<T, G, S, Q, regs>;
  else if constexpr (V == smem6) return scan_bwd_6<T, G, S, Q, V>;
  else return scan_bwd_5<T, G, S, Q, V>;
}

template <typename T, int G, int S, bool Q, int V>
void launch(bool backward, const ScanParams& p, cudaStream_t stream) {
  const dim3 grid(scan_channel_blocks(p.channels, p.states), p.batch);
  using St = Stage<G, S>;
  constexpr int bwd_bytes = sizeof(St), fwd_bytes = offsetof(St, dy);
  // Once per kernel instance (thread-safe static initialisation); should it fail, so does the launch, which
  // the op checks.
  static const bool opted_in = [] {
    cudaFuncSetAttribute(scan_fwd<T, G, S, Q>, cudaFuncAttributeMaxDynamicSharedMemorySize, fwd_bytes);
    cudaFuncSetAttribute(scan_bwd<T, G, S, Q, V>(), cudaFuncAttributeMaxDynamicSharedMemorySize, bwd_bytes);
    // Six blocks of 37 KB (36 of shared memory + 1 the system keeps) need the largest shared-memory carveout.
    if constexpr (V == static_cast<int>(ScanBwdBuild::smem6))
      cudaFuncSetAttribute(scan_bwd<T, G, S, Q, V>(), cudaFuncAttributePreferredSharedMemoryCarveout,
                           cudaSharedmemCarveoutMaxShared);
    return true;
  }();
  (void)opted_in;
  if (backward)
    scan_bwd<T, G, S, Q, V>()<<<grid, kScanThreads, bwd_bytes, stream>>>(p);
  else
    scan_fwd<T, G, S, Q><<<grid, kScanThreads, fwd_bytes, stream>>>(p);
}

template <typename T, int G, bool Q, int V>
void launch_segment(bool backward, const ScanParams& p, cudaStream_t stream) {
  if (scan_segment(p.length) == kShortSegment)
    launch<T, G, kShortSegment, Q, V>(backward, p, stream);
  else
    launch<T, G, kScanSegment, Q, V>(backward, p, stream);
}

// d_state 16: the backward build REPRO_SCAN_BWD asks for (the forward is the same in each).
template <typename T, bool Q>
void launch_d16(bool backward, const ScanParams& p, cudaStream_t stream) {
  const ScanBwdBuild b = backward ? scan_bwd_build() : ScanBwdBuild::regs;
  if (backward) count_scan_bwd_launch(b);
  switch (b) {
    case ScanBwdBuild::regs: return launch_segment<T, 4, Q, static_cast<int>(ScanBwdBuild::regs)>(backward, p, stream);
    case ScanBwdBuild::smem5: return launch_segment<T, 4, Q, static_cast<int>(ScanBwdBuild::smem5)>(backward, p, stream);
    case ScanBwdBuild::smem6: return launch_segment<T, 4, Q, static_cast<int>(ScanBwdBuild::smem6)>(backward, p, stream);
  }
}

template <typename T, bool Q>
void launch_states(bool backward, const ScanParams& p, cudaStream_t stream) {
  switch (p.states) {
    case 16: return launch_d16<T, Q>(backward, p, stream);
    case 32: return launch_segment<T, 8, Q, 0>(backward, p, stream);
    case 64: return launch_segment<T, 16, Q, 0>(backward, p, stream);
    case 128: return launch_segment<T, 32, Q, 0>(backward, p, stream);
  }
}

// Every input can be read four elements per load: 4-element-aligned pointers and strides, channels in fours.
bool quads_ok(const ScanParams& p) {
  const size_t e = p.bf16 ? 2 : 4;
  auto aligned = [](const void* ptr, size_t bytes) { return reinterpret_cast<uintptr_t>(ptr) % bytes == 0; };
  auto quads = [&](const Strided& s, size_t elem) {
    return !s.ptr || (aligned(s.ptr, 4 * elem) && s.batch % 4 == 0 && s.time % 4 == 0);
  };
  return p.channels % 4 == 0 && quads(p.x, e) && quads(p.z, e) && quads(p.delta, 4) && quads(p.Bm, e) &&
         quads(p.Cm, e) && (!p.dout || aligned(p.dout, 4 * e)) && (!p.delta_bias || aligned(p.delta_bias, 16));
}

template <typename T>
void launch_dtype(bool backward, const ScanParams& p, cudaStream_t stream) {
  if (scan_quads_wanted() && quads_ok(p)) {
    count_scan_quad_launch();
    launch_states<T, true>(backward, p, stream);
  } else {
    launch_states<T, false>(backward, p, stream);
  }
}

void dispatch(bool backward, const ScanParams& p, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  if (p.bf16)
    launch_dtype<__nv_bfloat16>(backward, p, s);
  else
    launch_dtype<float>(backward, p, s);
}

}  // namespace

void selective_scan_fwd(const ScanParams& p, void* stream) { dispatch(false, p, stream); }
void selective_scan_bwd(const ScanParams& p, void* stream) { dispatch(true, p, stream); }

}  // namespace repro::kernels
