// Hyena's implicit long filter (Poli et al. 2023, §3.3) and the FFT causal convolution that applies it.
//
//   h(t) = Window(t) ⊙ FFN(PositionalEncoding(t)),  t = 0 … L-1 on a grid of l_max points
//
// PositionalEncoding(t) = [t/(l_max-1), cos(f_k·2πt/l_max), −sin(f_k·2πt/l_max)] with bands f_k, FFN =
// Linear → sin(ω·) → (Linear → sin(ω·)) × inner → Linear (one trainable frequency vector ω shared by every
// activation, as zoology's Filter shares its Sin module), Window = exp(−|α_c|·t/(l_max-1)) per channel c with
// α linearly spaced so the window falls to `target` between fast_pct and slow_pct of l_max.
#pragma once

#include <torch/torch.h>

#include <c10/core/impl/LocalDispatchKeySet.h>

#include <cmath>

namespace hyena {

// y[..., c, t] = Σ_{s≤t} k[c, t−s] · u[..., c, s], in fp32. Zero-padding both signals to 2L makes the
// FFT's circular convolution linear, so no output wraps around onto earlier positions.
inline torch::Tensor fft_causal_conv(const torch::Tensor& u, const torch::Tensor& k) {
  const int64_t L = u.size(-1), n = 2 * L;
  auto uf = torch::fft::rfft(u.to(torch::kFloat), n), kf = torch::fft::rfft(k.to(torch::kFloat), n);
  return torch::fft::irfft(uf * kf, n).narrow(-1, 0, L);
}

struct FilterOptions {
  int64_t channels, l_max, emb_dim, order, inner;  // inner = hidden Linear+sin layers after the first
  double freq;                                     // initial ω of the sine activations
  bool modulate;
  double fast_pct, slow_pct, target;  // exponential window
};

class ImplicitFilterImpl : public torch::nn::Module {
 public:
  explicit ImplicitFilterImpl(const FilterOptions& o) : modulate_(o.modulate) {
    const int64_t n = o.l_max, bands = (o.emb_dim - 1) / 2;
    auto t = torch::linspace(0, 1, n).unsqueeze(1);                       // [l_max, 1]
    auto w = 2 * M_PI * torch::arange(n, torch::kFloat).unsqueeze(1) / n;  // [l_max, 1]
    auto f = torch::linspace(1e-4, bands - 1, bands).unsqueeze(0);         // [1, bands]
    // A parameter, as in zoology/Global_Mamba (whose trainer gives it the global learning rate).
    z = register_parameter("z", torch::cat({t, torch::cos(f * w), -torch::sin(f * w)}, 1));
    t_ = register_buffer("t", t);
    first_ = register_module("first", torch::nn::Linear(o.emb_dim, o.order));
    for (int64_t i = 0; i < o.inner; ++i)
      inner_.push_back(register_module("inner" + std::to_string(i), torch::nn::Linear(o.order, o.order)));
    last_ = register_module("last", torch::nn::Linear(torch::nn::LinearOptions(o.order, o.channels).bias(false)));
    freq = register_parameter("freq", torch::full({o.order}, o.freq));
    // Fixed (a buffer, as zoology's modulation_lr = 0): slow channels keep long memory, fast ones are local.
    const double lo = std::log(o.target) / o.slow_pct, hi = std::log(o.target) / o.fast_pct;
    decay_ = register_buffer("decay", torch::linspace(lo, hi, o.channels).abs());
  }

  // The filter for the first L positions, [channels, L], computed in fp32 whatever autocast says:
  // sin(ω·x) of bf16 x at ω ≈ 14 would have no correct digits.
  torch::Tensor kernel(int64_t L) {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    auto h = torch::sin(freq * first_->forward(z.narrow(0, 0, L)));
    for (auto& l : inner_) h = torch::sin(freq * l->forward(h));
    h = last_->forward(h);                                                   // [L, channels]
    if (modulate_) h = h * torch::exp(-t_.narrow(0, 0, L) * decay_.unsqueeze(0));
    return h.t();
  }

  torch::Tensor z, freq;

 private:
  bool modulate_;
  torch::Tensor t_, decay_;
  torch::nn::Linear first_{nullptr}, last_{nullptr};
  std::vector<torch::nn::Linear> inner_;
};
TORCH_MODULE(ImplicitFilter);

}  // namespace hyena
