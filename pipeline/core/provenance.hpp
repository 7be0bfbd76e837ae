// Where a number came from: code version, spec, seed, device, library versions, time.
#pragma once
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <string>

namespace repro {

// "cpu" or "cuda:0 (NVIDIA H100 80GB HBM3)".
std::string device_description(const torch::Device& d);
// Resolves "auto" to cuda when available, else cpu; "cuda" without a GPU is a UserError.
torch::Device resolve_device(const std::string& want);
// $REPRO_GIT_SHA when set (marked as stated: a carried binary's build revision), else the git sha of the source
// tree the binary was built from (with "-dirty" if it has uncommitted changes), else "unknown".
std::string git_revision();
nlohmann::json library_versions();
std::string utc_now();  // ISO 8601

}  // namespace repro
