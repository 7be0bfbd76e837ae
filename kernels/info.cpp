#include "info.hpp"

#include <sstream>

namespace repro::kernels {

std::string describe() {
#ifdef REPRO_KERNELS_CUDA
  // The architectures compiled in (CMake's list, e.g. "90" or "80;90"): a GPU outside it would JIT PTX, or fail.
  std::string sm;
  std::istringstream archs(REPRO_CUDA_ARCHS);
  for (std::string a; std::getline(archs, a, ';');) sm += (sm.empty() ? "sm_" : ", sm_") + a;
  return "selective_scan, causal_conv1d (width <= 4), wkv4 (CUDA, " + sm + ")";
#else
  return "none (built without nvcc: the LibTorch paths run everywhere)";
#endif
}

}  // namespace repro::kernels
