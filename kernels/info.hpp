// What librepro_kernels holds: printed by `repro plugins` and recorded in every result's provenance.
#pragma once
#include <cstdint>
#include <string>

namespace repro::kernels {

// e.g. "selective_scan, causal_conv1d (width <= 4), wkv4 (CUDA, sm_90)" or "none (built without nvcc)".
std::string describe();

// REPRO_SCAN_STAGING=quads: the selective scan stages four elements per load where its inputs are aligned (opt-in
// until measured on a GPU; kernels/README.md). Read at every call, so that a test can run both in one process.
bool scan_quads_wanted();
// Selective-scan launches so far that staged four elements per load: lets the tests see which path ran.
int64_t scan_quad_launches();
void count_scan_quad_launch();

}  // namespace repro::kernels
