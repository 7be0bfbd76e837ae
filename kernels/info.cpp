#include "info.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

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
  if (!v || !*v || !std::strcmp(v, "quads")) return true;
  if (!std::strcmp(v, "elements")) return false;
  throw std::invalid_argument(std::string("REPRO_SCAN_STAGING: expected quads or elements, got '") + v + "'");
}

namespace {
constexpr const char* kBwdNames[kScanBwdBuilds] = {"regs", "smem5", "smem6"};
std::atomic<int64_t> quad_launches{0};
std::atomic<int64_t> bwd_launches[kScanBwdBuilds] = {};
}  // namespace

const char* scan_bwd_build_name(ScanBwdBuild b) { return kBwdNames[static_cast<int>(b)]; }

ScanBwdBuild scan_bwd_build() {
  const char* v = std::getenv("REPRO_SCAN_BWD");
  if (!v || !*v) return ScanBwdBuild::smem6;
  for (int i = 0; i < kScanBwdBuilds; ++i)
    if (!std::strcmp(v, kBwdNames[i])) return static_cast<ScanBwdBuild>(i);
  throw std::invalid_argument(std::string("REPRO_SCAN_BWD: expected regs, smem5 or smem6, got '") + v + "'");
}

int64_t scan_quad_launches() { return quad_launches.load(); }
void count_scan_quad_launch() { ++quad_launches; }
int64_t scan_bwd_launches(ScanBwdBuild b) { return bwd_launches[static_cast<int>(b)].load(); }
void count_scan_bwd_launch(ScanBwdBuild b) { ++bwd_launches[static_cast<int>(b)]; }

}  // namespace repro::kernels
