// What librepro_kernels holds: printed by `repro plugins` and recorded in every result's provenance.
#pragma once
#include <cstdint>
#include <string>

namespace repro::kernels {

// e.g. "selective_scan, causal_conv1d (width <= 4), wkv4 (CUDA, sm_90)" or "none (built without nvcc)".
std::string describe();

// REPRO_SCAN_STAGING=quads (the default since 2026-12-07, measured faster at every shape: kernels/README.md): the
// selective scan stages four elements per load where its inputs are aligned; =elements always stages element-wise
// (the build before). Read at every call, so that a test or benchmark can run both in one process; any other value
// throws std::invalid_argument naming the variable.
bool scan_quads_wanted();
// Selective-scan launches so far that staged four elements per load: lets the tests see which path ran.
int64_t scan_quad_launches();
void count_scan_quad_launch();

// The selective scan's backward at d_state 16, one of three builds chosen by REPRO_SCAN_BWD (read at every call,
// for the benchmarks and tests to compare them in one process; kernels/README.md has the measurements):
//   regs  : each sub-chunk's starting state in registers, 8-step sub-chunks, built for 5 blocks per SM (until
//           2026-12-07 the only build)
//   smem5 : the starting states in the thread's own shared-memory slots (no spills), 8-step sub-chunks, 5 blocks
//   smem6 : shared-memory starts and 4-step sub-chunks, built for 6 blocks per SM (80 registers, no spills); the
//           default (unset or empty), the fastest on an H100 at 3 of the 4 Mamba-130M shapes and within 3 % at the 4th
enum class ScanBwdBuild { regs = 0, smem5 = 1, smem6 = 2 };
inline constexpr int kScanBwdBuilds = 3;
// Throws std::invalid_argument naming the variable and the accepted values for anything else.
ScanBwdBuild scan_bwd_build();
const char* scan_bwd_build_name(ScanBwdBuild b);  // "regs", "smem5", "smem6"
// d_state-16 backward launches so far with each build (the tests check which one ran).
int64_t scan_bwd_launches(ScanBwdBuild b);
void count_scan_bwd_launch(ScanBwdBuild b);

}  // namespace repro::kernels
