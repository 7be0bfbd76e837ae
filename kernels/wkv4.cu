// RWKV-4's WKV, forward and backward, numerically stable for any w < 0, u, k (see <repro/kernels.hpp>).
// One thread = one (batch row, channel) walking time. The state is RWKV-4's (a, b, p): the running sums
// a = sum_i e^{...} v_i, b = sum_i e^{...} scaled by e^{-p}, p the running maximum exponent.
//
// Backward, with den_t = b_t + e^{u + k_t} and alpha_t = dLoss/da_t, beta_t = dLoss/db_t:
//   alpha_t = dy_t / den_t + e^w alpha_{t+1},   beta_t = -dy_t y_t / den_t + e^w beta_{t+1}
// (kept as (A, B) e^{-m} with the offset m chosen so nothing overflows), and
//   dk_t = e^{k_t} (v_t alpha_{t+1} + beta_{t+1}) + dy_t e^{u+k_t} (v_t - y_t) / den_t,  dv_t, du, dw alike.
// States are recomputed from checkpoints every kSegment steps (layout.hpp), as in the selective scan.
#include "common.cuh"
#include "wkv4.hpp"

namespace repro::kernels {
namespace {

constexpr float kNegInf = -1e38f;

struct State {
  float a = 0.f, b = 0.f, p = kNegInf;
};

__device__ __forceinline__ void advance(State& s, float w, float k, float v) {
  const float q = fmaxf(w + s.p, k), e1 = __expf(w + s.p - q), e2 = __expf(k - q);
  s.a = e1 * s.a + e2 * v;
  s.b = e1 * s.b + e2;
  s.p = q;
}

// y_t from the state before step t; also the scaled denominator and its exponent, and e^{u+k-q}.
struct Out {
  float y, den, q, e2;
};
__device__ __forceinline__ Out output(const State& s, float u, float k, float v) {
  const float q = fmaxf(s.p, u + k), e1 = __expf(s.p - q), e2 = __expf(u + k - q);
  const float den = e1 * s.b + e2;
  return {(e1 * s.a + e2 * v) / den, den, q, e2};
}

struct Lane {
  int b, c;
  bool active;
  __device__ Lane(const WkvParams& p) {
    c = blockIdx.x * kWkvThreads + threadIdx.x;
    active = c < p.channels;
    if (!active) c = p.channels - 1;
    b = blockIdx.y;
  }
  __device__ int64_t at(const WkvParams& p, int t) const {
    return (static_cast<int64_t>(b) * p.length + t) * p.channels + c;
  }
  __device__ float* ckpt(const WkvParams& p, int seg) const {
    return p.ckpt + ((static_cast<int64_t>(b) * segments(p.length) + seg) * p.channels + c) * 3;
  }
};

__global__ void __launch_bounds__(kWkvThreads) wkv_fwd(WkvParams p) {
  const Lane l(p);
  const float w = p.w[l.c], u = p.u[l.c];
  State s;
  for (int t = 0; t < p.length; ++t) {
    const int64_t o = l.at(p, t);
    const float k = p.k[o], v = p.v[o];
    const Out out = output(s, u, k, v);
    if (l.active) p.y[o] = out.y;
    advance(s, w, k, v);
    if (p.ckpt && l.active && (t + 1) % kSegment == 0 && t + 1 < p.length) {
      float* c = l.ckpt(p, t / kSegment);
      c[0] = s.a, c[1] = s.b, c[2] = s.p;
    }
  }
}

__global__ void __launch_bounds__(kWkvThreads) wkv_bwd(WkvParams p) {
  constexpr int kSubs = kSegment / kSubchunk;
  const Lane l(p);
  const int L = p.length;
  const float w = p.w[l.c], u = p.u[l.c];
  float A = 0.f, B = 0.f, m = 1e38f;  // alpha_{t+1} = A e^{-m}, beta_{t+1} = B e^{-m}
  float dw = 0.f, du = 0.f;
  for (int seg = segments(L) - 1; seg >= 0; --seg) {
    const int ts = seg * kSegment;
    State sub[kSubs];  // the state entering each sub-chunk
    if (seg > 0) {
      const float* c = l.ckpt(p, seg - 1);
      sub[0].a = c[0], sub[0].b = c[1], sub[0].p = c[2];
    }
#pragma unroll
    for (int k = 1; k < kSubs; ++k) {
      sub[k] = sub[k - 1];
      for (int i = 0; i < kSubchunk; ++i) {
        const int t = ts + (k - 1) * kSubchunk + i;
        if (t < L) advance(sub[k], w, p.k[l.at(p, t)], p.v[l.at(p, t)]);
      }
    }
#pragma unroll
    for (int k = kSubs - 1; k >= 0; --k) {
      const int t0 = ts + k * kSubchunk;
      if (t0 >= L) continue;
      State st[kSubchunk];  // the state before each step
      st[0] = sub[k];
#pragma unroll
      for (int i = 1; i < kSubchunk; ++i) {
        st[i] = st[i - 1];
        if (t0 + i - 1 < L) advance(st[i], w, p.k[l.at(p, t0 + i - 1)], p.v[l.at(p, t0 + i - 1)]);
      }
#pragma unroll
      for (int i = kSubchunk - 1; i >= 0; --i) {
        const int t = t0 + i;
        if (t >= L) continue;
        const int64_t o = l.at(p, t);
        const float k = p.k[o], v = p.v[o], gy = p.dy[o];
        const State& s = st[i];
        // Through the recurrence: a_{t+1} = e^w a_t + e^{k_t} v_t, b_{t+1} = e^w b_t + e^{k_t}.
        const float ek = __expf(k - m);
        float dk = ek * (v * A + B), dv = ek * A;
        dw += __expf(w + s.p - m) * (A * s.a + B * s.b);
        // Directly through y_t.
        const Out out = output(s, u, k, v);
        const float g = gy / out.den, gk = g * out.e2 * (v - out.y);
        dv += g * out.e2;
        dk += gk;
        du += gk;
        const float nm = fminf(out.q, m - w), fresh = __expf(nm - out.q), old = __expf(w - m + nm);
        A = g * fresh + A * old;
        B = -g * out.y * fresh + B * old;
        m = nm;
        if (l.active) p.dk[o] = dk, p.dv[o] = dv;
      }
    }
  }
  if (!l.active) return;
  p.dw_part[static_cast<int64_t>(l.b) * p.channels + l.c] = dw;
  p.du_part[static_cast<int64_t>(l.b) * p.channels + l.c] = du;
}

}  // namespace

void wkv4_fwd(const WkvParams& p, void* stream) {
  const dim3 grid((p.channels + kWkvThreads - 1) / kWkvThreads, p.batch);
  wkv_fwd<<<grid, kWkvThreads, 0, static_cast<cudaStream_t>(stream)>>>(p);
}
void wkv4_bwd(const WkvParams& p, void* stream) {
  const dim3 grid((p.channels + kWkvThreads - 1) / kWkvThreads, p.batch);
  wkv_bwd<<<grid, kWkvThreads, 0, static_cast<cudaStream_t>(stream)>>>(p);
}

}  // namespace repro::kernels
