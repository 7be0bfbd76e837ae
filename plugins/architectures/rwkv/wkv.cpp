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

// The heavy part of the parallel form, with a hand-written backward: for each chunk, query t mixes the
// values of its own chunk (logits d[t, j] + k_j) and the carried state (logit s_t, mean mu):
//   y_t = (sum_j e^{d[t,j] + k_j - m} v_j + e^{s_t - m} mu) / (sum_j e^{d[t,j] + k_j - m} + e^{s_t - m}),
// m = the row maximum. Autograd through the same expression keeps several [B, N, T, T, C] tensors per
// layer and makes many more passes over them; this keeps one (the exponentials) and makes 7 + 6 passes.
// Shapes: d [T, T, C]; k, v, s [B, N, T, C]; mu [B, N, C] -> y [B, N, T, C].
struct ChunkMix : torch::autograd::Function<ChunkMix> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& d, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& s, const torch::Tensor& mu) {
    auto e = d + k.unsqueeze(2);                          // logits [B, N, T(query), T(key), C]
    auto m = torch::maximum(torch::amax(e, 3), s);        // finite: the diagonal is
    e.sub_(m.unsqueeze(3)).exp_();
    auto e_s = torch::exp(s - m);
    auto den = e.sum(3) + e_s;
    auto y = ((e * v.unsqueeze(2)).sum(3) + e_s * mu.unsqueeze(2)) / den;
    ctx->save_for_backward({v, mu, y});
    ctx->saved_data["e"] = e;
    ctx->saved_data["e_s"] = e_s;
    ctx->saved_data["den"] = den;
    return y;
  }
  // dy/dlogit_j = p_j (v_j - y) with p the normalised weights; the state is one more "position".
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &v = saved[0], &mu = saved[1], &y = saved[2];
    auto e = ctx->saved_data["e"].toTensor(), e_s = ctx->saved_data["e_s"].toTensor();
    auto g = grads[0] / ctx->saved_data["den"].toTensor();  // [B, N, T, C]
    auto a = e * g.unsqueeze(3);                               // g_t p(t, j) den_t
    auto dv = a.sum(2);
    auto dlogit = (v.unsqueeze(2) - y.unsqueeze(3)).mul_(a);
    auto gs = g * e_s;
    return {dlogit.sum(torch::IntArrayRef{0, 1}), dlogit.sum(2), dv, gs * (mu.unsqueeze(2) - y), gs.sum(2)};
  }
};

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
  auto y = ChunkMix::apply(decay_logits(w, u, T), kc, vc, lam.unsqueeze(2) + pos * w, mu);
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
