#include "wkv.hpp"

#include <algorithm>
#include <limits>

namespace rwkv {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// An empty state's log-normaliser: finite, so no inf - inf appears, and exp of it underflows to exactly 0.
constexpr double kEmpty = -1e30;

// Per channel, the position part of the logits over a window of T positions, channels last: D[t, j, c] =
// (t-1-j) w_c for j < t, u_c for j = t, -inf for j > t (the key k_j is added by the caller).
torch::Tensor decay_logits(const torch::Tensor& w, const torch::Tensor& u, int64_t T) {
  auto pos = torch::arange(T, w.options());
  auto lag = (pos.view({T, 1}) - pos.view({1, T}) - 1).unsqueeze(-1);  // [T, T, 1]
  auto eye = torch::eye(T, w.options().dtype(torch::kBool)).unsqueeze(-1);
  auto future = torch::ones({T, T}, w.options().dtype(torch::kBool)).triu(1).unsqueeze(-1);
  return torch::where(eye, u, lag * w).masked_fill(future, kNegInf);
}

}  // namespace

torch::Tensor wkv_recurrent(const torch::Tensor& w, const torch::Tensor& u, const torch::Tensor& k,
                            const torch::Tensor& v) {
  const int64_t B = k.size(0), L = k.size(1), C = k.size(2);
  // State: numerator a and denominator b of the past, both scaled by e^{-p}.
  auto a = torch::zeros({B, C}, k.options()), b = torch::zeros({B, C}, k.options());
  auto p = torch::full({B, C}, kEmpty, k.options());
  std::vector<torch::Tensor> out;
  out.reserve(L);
  for (int64_t t = 0; t < L; ++t) {
    auto kt = k.select(1, t), vt = v.select(1, t);
    auto now = u + kt;  // the current token enters with the bonus u
    auto q = torch::maximum(p, now);
    auto e1 = torch::exp(p - q), e2 = torch::exp(now - q);
    out.push_back((e1 * a + e2 * vt) / (e1 * b + e2));
    auto decayed = p + w;  // and the state decays by e^w before taking in k_t
    q = torch::maximum(decayed, kt);
    e1 = torch::exp(decayed - q), e2 = torch::exp(kt - q);
    a = e1 * a + e2 * vt;
    b = e1 * b + e2;
    p = q;
  }
  return torch::stack(out, 1);
}

torch::Tensor wkv_parallel(const torch::Tensor& w, const torch::Tensor& u, const torch::Tensor& k,
                           const torch::Tensor& v, int64_t chunk) {
  // Channels stay last (contiguous) throughout: every op is then a vectorised pass along C.
  const int64_t B = k.size(0), L = k.size(1), C = k.size(2);
  const int64_t T = std::min(chunk, L), N = (L + T - 1) / T;
  // [B, L, C] -> [B, N, T, C]; padding goes at the end, where causality keeps it out of real outputs.
  auto chunked = [&](const torch::Tensor& x) { return torch::constant_pad_nd(x, {0, 0, 0, N * T - L}).view({B, N, T, C}); };
  auto kc = chunked(k), vc = chunked(v);
  auto pos = torch::arange(T, k.options()).unsqueeze(-1);  // [T, 1]

  // Within each chunk: logits [B, N, T(query), T(key), C] and their log-normaliser [B, N, T, C].
  auto logits = decay_logits(w, u, T) + kc.unsqueeze(2);
  auto lse_in = torch::logsumexp(logits, 3);

  // Each chunk's own contribution to the state, decayed to its last position: (log-normaliser, mean) [B, N, C].
  auto tail = kc + (T - 1 - pos) * w;
  auto lam_chunk = torch::logsumexp(tail, 2);
  auto mu_chunk = (torch::softmax(tail, 2) * vc).sum(2);

  // State before chunk n = the chunk summaries m < n, each decayed by (n-1-m)·T steps: the same softmax
  // at chunk granularity. Rows n = 1..N-1 always see chunk n-1; chunk 0 starts from the empty state.
  auto lam = torch::full({B, 1, C}, kEmpty, k.options()), mu = torch::zeros({B, 1, C}, k.options());
  if (N > 1) {
    auto cpos = torch::arange(N - 1, k.options());
    auto lag = (cpos.view({N - 1, 1}) - cpos.view({1, N - 1})).unsqueeze(-1);  // (n-1) - m, [N-1, N-1, 1]
    auto future = torch::ones({N - 1, N - 1}, k.options().dtype(torch::kBool)).triu(1).unsqueeze(-1);
    auto clog = (lag * static_cast<double>(T) * w + lam_chunk.slice(1, 0, N - 1).unsqueeze(1)).masked_fill(future, kNegInf);
    lam = torch::cat({lam, torch::logsumexp(clog, 2)}, 1);
    mu = torch::cat({mu, (torch::softmax(clog, 2) * mu_chunk.slice(1, 0, N - 1).unsqueeze(1)).sum(2)}, 1);
  }

  // Query t of chunk n sees the state decayed by t more steps, and its own chunk.
  auto s = lam.unsqueeze(2) + pos * w;  // [B, N, T, C]
  auto lse = torch::logaddexp(s, lse_in);
  auto y = torch::exp(s - lse) * mu.unsqueeze(2) + (torch::exp(logits - lse.unsqueeze(3)) * vc.unsqueeze(2)).sum(3);
  return y.view({B, N * T, C}).slice(1, 0, L);
}

torch::Tensor wkv_weights(const torch::Tensor& w, const torch::Tensor& u, const torch::Tensor& k) {
  const int64_t B = k.size(0), L = k.size(1), C = k.size(2);
  auto d = decay_logits(w, u, L);  // [L, L, C]
  auto sum = torch::zeros({B, L, L}, k.options());
  const int64_t block = std::max<int64_t>(1, (int64_t{1} << 24) / std::max<int64_t>(1, B * L * L));  // bound memory
  for (int64_t c = 0; c < C; c += block) {
    const int64_t n = std::min(block, C - c);
    sum += torch::softmax(d.slice(2, c, c + n) + k.slice(2, c, c + n).unsqueeze(1), 2).sum(-1);
  }
  return sum / static_cast<double>(C);
}

}  // namespace rwkv
