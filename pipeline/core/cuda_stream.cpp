#include "cuda_stream.hpp"

#ifdef REPRO_TORCH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include <optional>

namespace repro {

struct CellStream::Impl {
#ifdef REPRO_TORCH_CUDA
  std::optional<c10::cuda::CUDAStreamGuard> guard;
#endif
};

CellStream::CellStream(const torch::Device& device) : impl_(std::make_unique<Impl>()) {
#ifdef REPRO_TORCH_CUDA
  if (device.is_cuda()) impl_->guard.emplace(c10::cuda::getStreamFromPool(false, device.index()));
#else
  (void)device;
#endif
}

CellStream::~CellStream() {
#ifdef REPRO_TORCH_CUDA
  // Work queued on this stream must finish before another cell reuses the pool slot's memory.
  if (impl_->guard) impl_->guard->current_stream().synchronize();
#endif
}

}  // namespace repro
