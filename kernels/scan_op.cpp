// The operator repro::selective_scan: input checks, layout, and autograd around selective_scan.cu.
#include <ATen/cuda/CUDAContext.h>
#include <torch/torch.h>

#include "op_util.hpp"
#include "selective_scan.hpp"

namespace repro::kernels {
namespace {
using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

ScanParams params(const Tensor& x, const Tensor& delta, const Tensor& A, const Tensor& Bm, const Tensor& Cm,
                  const Tensor& D, const Tensor& z, const Tensor& bias, bool softplus) {
  ScanParams p;
  p.batch = static_cast<int>(x.size(0));
  p.length = static_cast<int>(x.size(1));
  p.channels = static_cast<int>(x.size(2));
  p.states = static_cast<int>(A.size(1));
  p.bf16 = x.scalar_type() == torch::kBFloat16;
  p.x = strided(x);
  p.delta = strided(delta);
  p.Bm = strided(Bm);
  p.Cm = strided(Cm);
  if (z.defined()) p.z = strided(z);
  p.A = A.data_ptr<float>();
  p.D = D.data_ptr<float>();
  p.delta_bias = bias.defined() ? bias.data_ptr<float>() : nullptr;
  p.softplus = softplus;
  return p;
}

class Scan : public torch::autograd::Function<Scan> {
 public:
  // z and bias as optionals: an undefined tensor cannot be an autograd input.
  static Tensor forward(AutogradContext* ctx, Tensor x, Tensor delta, Tensor A, Tensor Bm, Tensor Cm, Tensor D,
                        const std::optional<Tensor>& z_in, const std::optional<Tensor>& bias_in, bool softplus) {
    Tensor z = z_in.value_or(Tensor()), bias = bias_in.value_or(Tensor());
    const auto act = x.scalar_type() == torch::kBFloat16 ? torch::kBFloat16 : torch::kFloat;
    const int64_t Bsz = x.size(0), L = x.size(1), C = x.size(2), N = A.size(-1);
    check_cuda("selective_scan", {x, delta, A, Bm, Cm, D, z, bias});
    TORCH_CHECK(x.dim() == 3 && delta.sizes() == x.sizes(), "selective_scan: x and delta must be [B, L, D] alike");
    TORCH_CHECK(A.dim() == 2 && A.size(0) == C, "selective_scan: A must be [D, N]");
    TORCH_CHECK(scan_supports_states(static_cast<int>(N)),
                "selective_scan: d_state ", N, " is not compiled (16, 32, 64, 128); use the LibTorch scan");
    TORCH_CHECK(Bm.sizes() == torch::IntArrayRef({Bsz, L, N}) && Cm.sizes() == Bm.sizes(),
                "selective_scan: B and C must be [B, L, N]");
    TORCH_CHECK(D.numel() == C && (!bias.defined() || bias.numel() == C), "selective_scan: D, delta_bias must be [D]");
    TORCH_CHECK(!z.defined() || z.sizes() == x.sizes(), "selective_scan: z must be [B, L, D]");
    x = unit_stride(x, act), Bm = unit_stride(Bm, act), Cm = unit_stride(Cm, act);
    delta = unit_stride(delta, torch::kFloat);
    if (z.defined()) z = unit_stride(z, act);
    A = A.to(torch::kFloat).contiguous(), D = D.to(torch::kFloat).contiguous();
    if (bias.defined()) bias = bias.to(torch::kFloat).contiguous();

    auto p = params(x, delta, A, Bm, Cm, D, z, bias, softplus);
    auto out = torch::empty({Bsz, L, C}, x.options());
    const bool grad = any_requires_grad({x, delta, A, Bm, Cm, D, z, bias});
    Tensor ckpt = grad ? torch::empty({Bsz, scan_segments(static_cast<int>(L)), C, N}, delta.options()) : Tensor();
    p.out = out.data_ptr();
    p.ckpt = grad ? ckpt.data_ptr<float>() : nullptr;
    selective_scan_fwd(p, at::cuda::getCurrentCUDAStream().stream());
    if (grad) {
      ctx->save_for_backward({x, delta, A, Bm, Cm, D, z, bias, ckpt});
      ctx->saved_data["softplus"] = softplus;
    }
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto s = ctx->get_saved_variables();
    const Tensor &x = s[0], &delta = s[1], &A = s[2], &Bm = s[3], &Cm = s[4], &D = s[5], &z = s[6], &bias = s[7],
                 &ckpt = s[8];
    const int64_t Bsz = x.size(0), L = x.size(1), C = x.size(2), N = A.size(1);
    TORCH_CHECK(ckpt.size(1) == scan_segments(static_cast<int>(L)),
                "selective_scan: the forward's checkpoints do not match the sequence length");
    auto p = params(x, delta, A, Bm, Cm, D, z, bias, ctx->saved_data["softplus"].toBool());
    const Tensor dout = grads[0].to(x.scalar_type()).contiguous();
    auto dx = torch::empty({Bsz, L, C}, x.options()), ddelta = torch::empty({Bsz, L, C}, delta.options());
    const auto f32 = delta.options();
    const int64_t blocks = scan_channel_blocks(static_cast<int>(C), static_cast<int>(N));
    auto dB = torch::empty({blocks, Bsz, L, N}, f32), dC = torch::empty({blocks, Bsz, L, N}, f32);
    auto dA = torch::empty({Bsz, C, N}, f32), dD = torch::empty({Bsz, C}, f32);
    Tensor dz = z.defined() ? torch::empty({Bsz, L, C}, x.options()) : Tensor();
    Tensor dbias = bias.defined() ? torch::empty({Bsz, C}, f32) : Tensor();
    p.ckpt = ckpt.data_ptr<float>();
    p.dout = dout.data_ptr();
    p.dx = dx.data_ptr();
    p.ddelta = ddelta.data_ptr<float>();
    p.dz = z.defined() ? dz.data_ptr() : nullptr;
    p.dB_part = dB.data_ptr<float>();
    p.dC_part = dC.data_ptr<float>();
    p.dA_part = dA.data_ptr<float>();
    p.dD_part = dD.data_ptr<float>();
    p.dbias_part = bias.defined() ? dbias.data_ptr<float>() : nullptr;
    selective_scan_bwd(p, at::cuda::getCurrentCUDAStream().stream());
    return {dx,
            ddelta,
            dA.sum(0),
            dB.sum(0).to(Bm.scalar_type()),
            dC.sum(0).to(Cm.scalar_type()),
            dD.sum(0),
            dz,
            bias.defined() ? dbias.sum(0) : Tensor(),
            Tensor()};
  }
};

Tensor selective_scan(const Tensor& x, const Tensor& delta, const Tensor& A, const Tensor& Bm, const Tensor& Cm,
                      const Tensor& D, const std::optional<Tensor>& z, const std::optional<Tensor>& bias,
                      bool softplus) {
  return Scan::apply(x, delta, A, Bm, Cm, D, z, bias, softplus);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(repro, m) {
  m.def("selective_scan(Tensor x, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor D, Tensor? z, "
        "Tensor? delta_bias, bool delta_softplus) -> Tensor");
  // The d_state values compiled in, asked by <repro/kernels.hpp> before each call (no tensors: a catch-all kernel).
  m.def("selective_scan_supports(int d_state) -> bool",
        [](int64_t n) { return n > 0 && n <= 1024 && scan_supports_states(static_cast<int>(n)); });
}
// Autograd for training; CUDA for calls that carry no autograd key (inference-mode tensors).
TORCH_LIBRARY_IMPL(repro, Autograd, m) { m.impl("selective_scan", selective_scan); }
TORCH_LIBRARY_IMPL(repro, CUDA, m) { m.impl("selective_scan", selective_scan); }

}  // namespace repro::kernels
