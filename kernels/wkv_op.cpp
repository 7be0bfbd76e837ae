// The operator repro::wkv4: input checks and autograd around wkv4.cu (fp32 throughout, as RWKV-4's kernel).
#include <ATen/cuda/CUDAContext.h>
#include <torch/torch.h>

#include "op_util.hpp"
#include "wkv4.hpp"

namespace repro::kernels {
namespace {
using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

WkvParams params(const Tensor& w, const Tensor& u, const Tensor& k, const Tensor& v) {
  WkvParams p;
  p.batch = static_cast<int>(k.size(0));
  p.length = static_cast<int>(k.size(1));
  p.channels = static_cast<int>(k.size(2));
  p.w = w.data_ptr<float>();
  p.u = u.data_ptr<float>();
  p.k = k.data_ptr<float>();
  p.v = v.data_ptr<float>();
  return p;
}

class Wkv : public torch::autograd::Function<Wkv> {
 public:
  static Tensor forward(AutogradContext* ctx, Tensor w, Tensor u, Tensor k, Tensor v) {
    check_cuda("wkv4", {w, u, k, v});
    TORCH_CHECK(k.dim() == 3 && v.sizes() == k.sizes(), "wkv4: k and v must be [B, L, C] alike");
    TORCH_CHECK(w.numel() == k.size(2) && u.numel() == k.size(2), "wkv4: w and u must be [C]");
    const bool grad = any_requires_grad({w, u, k, v});
    auto f32 = [](const Tensor& t) { return t.to(torch::kFloat).contiguous(); };
    w = f32(w), u = f32(u), k = f32(k), v = f32(v);
    auto p = params(w, u, k, v);
    auto y = torch::empty_like(k);
    Tensor ckpt = grad ? torch::empty({k.size(0), segments(p.length), k.size(2), 3}, k.options()) : Tensor();
    p.y = y.data_ptr<float>();
    p.ckpt = grad ? ckpt.data_ptr<float>() : nullptr;
    wkv4_fwd(p, at::cuda::getCurrentCUDAStream().stream());
    if (grad) ctx->save_for_backward({w, u, k, v, ckpt});
    return y;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto s = ctx->get_saved_variables();
    const Tensor &w = s[0], &u = s[1], &k = s[2], &v = s[3], &ckpt = s[4];
    auto p = params(w, u, k, v);
    const Tensor dy = grads[0].to(torch::kFloat).contiguous();
    auto dk = torch::empty_like(k), dv = torch::empty_like(v);
    auto dw = torch::empty({k.size(0), k.size(2)}, k.options()), du = torch::empty_like(dw);
    p.ckpt = ckpt.data_ptr<float>();
    p.dy = dy.data_ptr<float>();
    p.dk = dk.data_ptr<float>();
    p.dv = dv.data_ptr<float>();
    p.dw_part = dw.data_ptr<float>();
    p.du_part = du.data_ptr<float>();
    wkv4_bwd(p, at::cuda::getCurrentCUDAStream().stream());
    return {dw.sum(0).view_as(w), du.sum(0).view_as(u), dk, dv};
  }
};

Tensor wkv4(const Tensor& w, const Tensor& u, const Tensor& k, const Tensor& v) { return Wkv::apply(w, u, k, v); }

}  // namespace

TORCH_LIBRARY_FRAGMENT(repro, m) { m.def("wkv4(Tensor w, Tensor u, Tensor k, Tensor v) -> Tensor"); }
TORCH_LIBRARY_IMPL(repro, Autograd, m) { m.impl("wkv4", wkv4); }
TORCH_LIBRARY_IMPL(repro, CUDA, m) { m.impl("wkv4", wkv4); }

}  // namespace repro::kernels
