// H3's two state space models (Fu et al. 2023, §3.1), each in two forms: a convolution kernel applied by
// FFT (training) and the step-by-step recurrence it is derived from (the reference the tests compare to).
// Everything runs in fp32 / complex64 whatever autocast says: kernels are powers of dA and sums of many terms.
#pragma once

#include <torch/torch.h>

#include <c10/core/impl/LocalDispatchKeySet.h>

#include <cmath>

namespace h3 {

// y[..., c, t] = Σ_{s≤t} k[c, t−s] · u[..., c, s]. Both signals are zero-padded to 2L so the FFT's circular
// convolution equals the linear one on the first L outputs. (Hyena's plugin has its own copy of these three
// lines: plugins share no code.)
inline torch::Tensor fft_causal_conv(const torch::Tensor& u, const torch::Tensor& k) {
  const int64_t L = u.size(-1), n = 2 * L;
  return torch::fft::irfft(torch::fft::rfft(u, n) * torch::fft::rfft(k, n), n).narrow(-1, 0, L);
}

// Shift SSM, one per channel (H of them), state size N: A is the shift matrix (state[n] ← state[n−1]),
// s_t = shift(s_{t−1}) + B u_t, y_t = C·s_t. Its kernel k[j] = Σ_m B[m] C[m+j] (j < N) is a learned causal
// filter of length N over the last N inputs. B starts at e₁ (so k = C) and is trained, as in zoology.
class ShiftSSMImpl : public torch::nn::Module {
 public:
  ShiftSSMImpl(int64_t H, int64_t N) {
    B = register_parameter("B", torch::zeros({H, N}).index_fill_(1, torch::tensor({int64_t{0}}), 1.0));
    // torch.nn.Conv1d's default bound for a kernel of N taps and one input channel.
    C = register_parameter("C", torch::empty({H, N}).uniform_(-1.0 / std::sqrt(N), 1.0 / std::sqrt(N)));
  }

  // [H, L]: the first L taps (zero beyond N).
  torch::Tensor kernel(int64_t L) const {
    const int64_t H = B.size(0), N = B.size(1);
    // conv1d is a cross-correlation: out[c, j] = Σ_m B[c, m] · C[c, j + m] over C padded right with N−1 zeros.
    auto k = torch::conv1d(torch::constant_pad_nd(C.unsqueeze(0), {0, N - 1}), B.unsqueeze(1), {}, /*stride=*/1,
                           /*padding=*/at::IntArrayRef{0}, /*dilation=*/1, /*groups=*/H)[0];
    return L <= N ? k.narrow(1, 0, L) : torch::constant_pad_nd(k, {0, L - N});
  }

  // u [..., H, L] → [..., H, L], one step at a time.
  torch::Tensor recurrent(const torch::Tensor& u) const {
    const int64_t L = u.size(-1);
    auto shape = u.sizes().vec();
    shape.back() = B.size(1);
    auto s = torch::zeros(shape, u.options());
    std::vector<torch::Tensor> ys;
    for (int64_t t = 0; t < L; ++t) {
      s = torch::constant_pad_nd(s, {1, -1}) + B * u.select(-1, t).unsqueeze(-1);
      ys.push_back((C * s).sum(-1));
    }
    return torch::stack(ys, -1);
  }

  torch::Tensor B, C;
};
TORCH_MODULE(ShiftSSM);

// Diagonal SSM (S4D-Lin, Gu et al. 2022), H independent copies with N/2 complex modes each (the N-dimensional
// real state of conjugate pairs): A_n = −exp(A_re_log) + i·A_im with A_im = πn, B = 1, C ~ CN(0, 1),
// Δ = exp(log_dt) log-uniform in [dt_min, dt_max]. Bilinear discretisation:
//   dA = (1 + ΔA/2)/(1 − ΔA/2),  dB = Δ·B/(1 − ΔA/2),  s_t = dA s_{t−1} + dB u_t,  y_t = 2·Re(C·s_t)
// so the convolution kernel is K[l] = 2·Re Σ_n C_n dB_n dA_n^l.
class DiagSSMImpl : public torch::nn::Module {
 public:
  DiagSSMImpl(int64_t H, int64_t N, double dt_min, double dt_max) {
    const int64_t modes = N / 2;
    log_dt = register_parameter("log_dt", torch::rand({H}) * (std::log(dt_max) - std::log(dt_min)) + std::log(dt_min));
    A_re_log = register_parameter("A_re_log", torch::full({H, modes}, std::log(0.5)));
    A_im = register_parameter("A_im", (M_PI * torch::arange(modes, torch::kFloat)).repeat({H, 1}));
    B = register_parameter("B", torch::view_as_real(torch::ones({H, modes}, torch::kComplexFloat)).clone());
    C = register_parameter("C", torch::view_as_real(torch::randn({H, modes}, torch::kComplexFloat)).clone());
  }

  struct Discrete {
    torch::Tensor dA, dB, C;  // complex [H, N/2]
  };
  Discrete discretize() const {
    auto dt = torch::exp(log_dt).unsqueeze(1);
    auto dtA = torch::complex(-torch::exp(A_re_log), A_im) * dt;
    auto den = 1.0 - dtA / 2.0;
    return {(1.0 + dtA / 2.0) / den, torch::view_as_complex(B) * dt / den, torch::view_as_complex(C)};
  }

  // [H, L] real kernel; dA^l as exp(l·log dA) (a Vandermonde matrix, [H, N/2, L], fine for N, L ≤ a few 1000).
  torch::Tensor kernel(int64_t L) const {
    auto d = discretize();
    auto l = torch::arange(L, log_dt.options());
    auto vander = torch::exp(torch::log(d.dA).unsqueeze(-1) * l);
    return 2.0 * torch::real(torch::matmul((d.C * d.dB).unsqueeze(1), vander).squeeze(1));
  }

  // u [..., H, L] (real) → [..., H, L], one step at a time.
  torch::Tensor recurrent(const torch::Tensor& u) const {
    auto d = discretize();
    auto shape = u.sizes().vec();
    shape.back() = d.dA.size(1);
    auto s = torch::zeros(shape, u.options().dtype(torch::kComplexFloat));
    std::vector<torch::Tensor> ys;
    for (int64_t t = 0; t < u.size(-1); ++t) {
      s = d.dA * s + d.dB * u.select(-1, t).unsqueeze(-1);
      ys.push_back(2.0 * torch::real((d.C * s).sum(-1)));
    }
    return torch::stack(ys, -1);
  }

  torch::Tensor log_dt, A_re_log, A_im, B, C;
};
TORCH_MODULE(DiagSSM);

}  // namespace h3
