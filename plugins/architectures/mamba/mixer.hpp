// The Mamba-1 mixer (Gu & Dao 2023; HF MambaMixer), optionally with the Global Selection module of
// "Revealing and Mitigating the Local Pattern Shortcuts of Mamba" (§4; released code's form):
//   [x, z] = in_proj(u);  x' = SiLU(conv_4(x));  [dt_low, B, C] = x_proj(x');
//   dt_pre = W_dt dt_low;  Global Selection: dt_pre *= SiLU(long_conv(x))  (x before the short conv);
//   delta = softplus(dt_pre + b_dt);  y = scan(x', delta, A, B, C, D);  out = out_proj(y * SiLU(z)).
#pragma once
#include <map>
#include <string>

#include "scan.hpp"

namespace mamba {

struct MixerConfig {
  int64_t d_model, d_inner, d_state, d_conv, dt_rank;
  double dt_min, dt_max, dt_init_floor;
  int64_t long_conv_kernel;  // 0: no Global Selection in this layer
  std::string scan;  // parallel | sequential | auto (parallel on CUDA, sequential on CPU)
  int64_t n_layers;          // for the residual-branch init scale
};

class MixerImpl : public torch::nn::Module {
 public:
  explicit MixerImpl(const MixerConfig& c);
  // u [B, L, d_model] -> [B, L, d_model]. If `internals` is given, fills the SDK's "ssm.*" tensors
  // (and "gs.gate" in a Global Selection layer), detached.
  torch::Tensor forward(const torch::Tensor& u, std::map<std::string, torch::Tensor>* internals = nullptr);

 private:
  MixerConfig c_;
  torch::nn::Linear in_proj_{nullptr}, x_proj_{nullptr}, dt_proj_{nullptr}, out_proj_{nullptr};
  torch::nn::Conv1d conv_{nullptr}, long_conv_{nullptr};
  torch::Tensor A_log_, D_;
};
TORCH_MODULE(Mixer);

}  // namespace mamba
