// The Mamba-1 mixer (Gu & Dao 2023, as HF MambaMixer), optionally with the Global Selection module of
// "Revealing and Mitigating the Local Pattern Shortcuts of Mamba" (§4.2, in the released code's form):
//   [x, z] = in_proj(u)                       x, z: [B, L, d_inner]
//   x' = SiLU(conv_short(x))                  depthwise causal, kernel d_conv (conv variants below)
//   [dt_low, B, C] = x_proj(x')
//   dt_pre = W_dt dt_low                      dt_proj without its bias
//   Global Selection:  dt_pre *= SiLU(conv_long(x))     depthwise causal, kernel long_conv_kernel, on x
//   delta = softplus(dt_pre + b_dt);  A = -exp(A_log)
//   y = selective_scan(x', delta, A, B, C, D)           (scan.hpp, fp32)
//   out = out_proj(y * SiLU(z))
// Conv variants of "Achilles' Heel of Mamba" (conv = ...): "none" x' = SiLU(x) (no token mixing before the SSM);
// "residual" x' = SiLU(conv_short(x)) + x (the paper's fix: the SSM also sees each token unmixed); "ones" the
// kernel fixed to all ones, bias 0, frozen (the paper's Fig. 7b).
// On CUDA the convolutions and the scan (with softplus, D skip and the z gate fused) run in our kernels
// (<repro/kernels.hpp>) when scan = "auto"; the LibTorch forms stay the CPU path and the oracle.
#pragma once
#include <map>
#include <string>

#include <repro/sdk.hpp>

namespace mamba {

struct MixerConfig {
  int64_t d_model, d_inner, d_state, d_conv, dt_rank;
  double dt_min, dt_max, dt_init_floor;
  int64_t long_conv_kernel;  // 0: no Global Selection in this layer
  std::string scan;  // "auto" (CUDA: our kernel, else parallel; CPU: sequential) | "parallel" | "sequential"
  std::string conv = "standard";  // "standard" | "none" | "residual" | "ones"
};

class MixerImpl : public torch::nn::Module {
 public:
  explicit MixerImpl(const MixerConfig& c);
  // u [B, L, d_model] -> [B, L, d_model]. With `internals`, also fills the SDK's "ssm.*" tensors (fp32,
  // detached) and, in a Global Selection layer, "gs.gate" = SiLU(conv_long(x)) [B, L, d_inner].
  // With `iv`, applies the SDK's SsmIntervention; `donor` is this layer's entry of iv->donor (or null).
  torch::Tensor forward(const torch::Tensor& u, std::map<std::string, torch::Tensor>* internals = nullptr,
                        const repro::sdk::SsmIntervention* iv = nullptr,
                        const std::map<std::string, torch::Tensor>* donor = nullptr);

 private:
  torch::Tensor ssm_input(const torch::Tensor& x);  // x' from x, per the conv variant

  MixerConfig c_;
  torch::nn::Linear in_proj_{nullptr}, x_proj_{nullptr}, dt_proj_{nullptr}, out_proj_{nullptr};
  torch::nn::Conv1d conv1d_{nullptr}, long_conv_{nullptr};
  torch::Tensor A_log_, D_;
};
TORCH_MODULE(Mixer);

}  // namespace mamba
