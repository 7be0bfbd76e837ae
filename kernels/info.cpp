#include "info.hpp"

namespace repro::kernels {

std::string describe() {
#ifdef REPRO_KERNELS_CUDA
  return "selective_scan, causal_conv1d (width <= 4), wkv4 (CUDA)";
#else
  return "none (built without nvcc: the LibTorch paths run everywhere)";
#endif
}

}  // namespace repro::kernels
