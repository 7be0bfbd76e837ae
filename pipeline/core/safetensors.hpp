// Tensor files in the safetensors format (8-byte header length, JSON header, raw little-endian data),
// so datasets and probe matrices open directly in Python with `safetensors.torch.load_file`.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>

namespace repro {

using TensorMap = std::map<std::string, torch::Tensor>;

// Atomic (temp + fsync + rename). Tensors are written contiguous, on CPU.
void save_safetensors(const std::filesystem::path& p, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata = {});
// Throws StageError naming the file on any malformed header or size mismatch.
TensorMap load_safetensors(const std::filesystem::path& p,
                           std::map<std::string, std::string>* metadata = nullptr);

}  // namespace repro
