#pragma once
// One CUDA stream per concurrently running cell, so that `repro run --jobs N` on one GPU overlaps the cells'
// kernels instead of serialising them on the default stream (small models leave an H100 mostly idle).
#include <torch/torch.h>

#include <memory>

namespace repro {

// While alive, the calling thread's current stream on `device` is a fresh pool stream (no-op on CPU or in a
// build without CUDA). Our kernels and LibTorch launch on the current stream; autograd follows it.
class CellStream {
 public:
  explicit CellStream(const torch::Device& device);
  ~CellStream();
  CellStream(const CellStream&) = delete;
  CellStream& operator=(const CellStream&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace repro
