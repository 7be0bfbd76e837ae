// Small helpers the operator files share: input checks and the layout our kernels read.
#pragma once
#include <initializer_list>

#include <torch/torch.h>

#include "layout.hpp"

namespace repro::kernels {

// Every defined tensor on one CUDA device.
inline void check_cuda(const char* op, std::initializer_list<torch::Tensor> ts) {
  const torch::Tensor* first = nullptr;
  for (const auto& t : ts) {
    if (!t.defined()) continue;
    TORCH_CHECK(t.is_cuda(), op, ": every tensor must be on CUDA");
    if (!first) first = &t;
    TORCH_CHECK(t.device() == first->device(), op, ": tensors on different devices");
  }
}

inline bool any_requires_grad(std::initializer_list<torch::Tensor> ts) {
  for (const auto& t : ts)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

// dtype `dt`, unit stride along the last axis (other strides are passed to the kernel as they are).
inline torch::Tensor unit_stride(torch::Tensor t, torch::ScalarType dt) {
  t = t.to(dt);
  return t.stride(-1) == 1 ? t : t.contiguous();
}

// A [B, L, C] tensor with unit channel stride as the kernels read it.
inline Strided strided(const torch::Tensor& t) {
  TORCH_CHECK(t.dim() == 3 && t.stride(2) == 1, "kernel input must be [B, L, C] with unit channel stride");
  return {t.data_ptr(), t.stride(0), t.stride(1)};
}

}  // namespace repro::kernels
