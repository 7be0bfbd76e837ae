#include "info.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
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

bool scan_quads_wanted() {
  const char* v = std::getenv("REPRO_SCAN_STAGING");
  return v && std::strcmp(v, "quads") == 0;
}

namespace {
std::atomic<int64_t> quad_launches{0};
}
int64_t scan_quad_launches() { return quad_launches.load(); }
void count_scan_quad_launch() { ++quad_launches; }

}  // namespace repro::kernels
