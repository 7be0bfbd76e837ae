// The operator repro::causal_conv1d: input checks, layout, and autograd around causal_conv1d.cu.
#include <ATen/cuda/CUDAContext.h>
#include <torch/torch.h>

#include "causal_conv1d.hpp"
#include "op_util.hpp"

namespace repro::kernels {
namespace {
using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

ConvParams params(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu) {
  ConvParams p;
  p.batch = static_cast<int>(x.size(0));
  p.length = static_cast<int>(x.size(1));
  p.channels = static_cast<int>(x.size(2));
  p.width = static_cast<int>(weight.size(1));
  p.bf16 = x.scalar_type() == torch::kBFloat16;
  p.silu = silu;
  p.x = strided(x);
  p.weight = weight.data_ptr<float>();
  p.bias = bias.defined() ? bias.data_ptr<float>() : nullptr;
  return p;
}

class Conv : public torch::autograd::Function<Conv> {
 public:
  // bias as an optional: an undefined tensor cannot be an autograd input.
  static Tensor forward(AutogradContext* ctx, Tensor x, Tensor weight, const std::optional<Tensor>& bias_in, bool silu) {
    Tensor bias = bias_in.value_or(Tensor());
    check_cuda("causal_conv1d", {x, weight, bias});
    TORCH_CHECK(x.dim() == 3, "causal_conv1d: x must be [B, L, C]");
    TORCH_CHECK(weight.dim() == 2 && weight.size(0) == x.size(2) && weight.size(1) >= 1 &&
                    weight.size(1) <= kConvMaxWidth,
                "causal_conv1d: weight must be [C, K] with K <= ", kConvMaxWidth);
    TORCH_CHECK(!bias.defined() || bias.numel() == x.size(2), "causal_conv1d: bias must be [C]");
    const auto act = x.scalar_type() == torch::kBFloat16 ? torch::kBFloat16 : torch::kFloat;
    x = unit_stride(x, act);
    weight = weight.to(torch::kFloat).contiguous();
    if (bias.defined()) bias = bias.to(torch::kFloat).contiguous();
    auto p = params(x, weight, bias, silu);
    auto out = torch::empty({x.size(0), x.size(1), x.size(2)}, x.options());
    p.out = out.data_ptr();
    causal_conv1d_fwd(p, at::cuda::getCurrentCUDAStream().stream());
    if (any_requires_grad({x, weight, bias})) {
      ctx->save_for_backward({x, weight, bias});
      ctx->saved_data["silu"] = silu;
    }
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto s = ctx->get_saved_variables();
    const Tensor &x = s[0], &weight = s[1], &bias = s[2];
    auto p = params(x, weight, bias, ctx->saved_data["silu"].toBool());
    const Tensor dout = grads[0].to(x.scalar_type()).contiguous();
    const auto f32 = weight.options();
    auto dx = torch::empty({x.size(0), x.size(1), x.size(2)}, x.options());
    auto dw = torch::empty({x.size(0), conv_tiles(p.length), x.size(2), weight.size(1)}, f32);
    Tensor db = bias.defined() ? torch::empty({x.size(0), conv_tiles(p.length), x.size(2)}, f32) : Tensor();
    p.dout = dout.data_ptr();
    p.dx = dx.data_ptr();
    p.dweight_part = dw.data_ptr<float>();
    p.dbias_part = bias.defined() ? db.data_ptr<float>() : nullptr;
    causal_conv1d_bwd(p, at::cuda::getCurrentCUDAStream().stream());
    const std::vector<int64_t> batch_and_tiles{0, 1};
    return {dx, dw.sum(batch_and_tiles), bias.defined() ? db.sum(batch_and_tiles) : Tensor(), Tensor()};
  }
};

Tensor causal_conv1d(const Tensor& x, const Tensor& weight, const std::optional<Tensor>& bias, bool silu) {
  return Conv::apply(x, weight, bias, silu);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(repro, m) { m.def("causal_conv1d(Tensor x, Tensor weight, Tensor? bias, bool silu) -> Tensor"); }
TORCH_LIBRARY_IMPL(repro, Autograd, m) { m.impl("causal_conv1d", causal_conv1d); }
TORCH_LIBRARY_IMPL(repro, CUDA, m) { m.impl("causal_conv1d", causal_conv1d); }

}  // namespace repro::kernels
