// What librepro_kernels holds: printed by `repro plugins` and recorded in every result's provenance.
#pragma once
#include <string>

namespace repro::kernels {

// e.g. "selective_scan, causal_conv1d (width <= 4), wkv4 (CUDA, sm_90)" or "none (built without nvcc)".
std::string describe();

}  // namespace repro::kernels
