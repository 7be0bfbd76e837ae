#include "info.hpp"

namespace repro::kernels {

std::string describe() {
#ifdef REPRO_KERNELS_CUDA
  // The architectures compiled in (CMake's list, e.g. "90" or "80;90"): a GPU outside it would JIT PTX, or fail.
  std::string archs = REPRO_CUDA_ARCHS, sm;
  for (size_t i = 0; i <= archs.size(); ++i) {
    const size_t end = archs.find(';', i);
    sm += (sm.empty() ? "sm_" : ", sm_") + archs.substr(i, end - i);
    if (end == std::string::npos) break;
    i = end;
  }
  return "selective_scan, causal_conv1d (width <= 4), wkv4 (CUDA, " + sm + ")";
#else
  return "none (built without nvcc: the LibTorch paths run everywhere)";
#endif
}

}  // namespace repro::kernels
