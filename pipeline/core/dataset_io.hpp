// The dataset artifact: one split of one task configuration as dataset.safetensors (inputs, targets,
// loss_mask, answer_group, subset, meta.*) with subset names in the file's metadata.
#pragma once
#include <repro/sdk.hpp>

#include <filesystem>

namespace repro {

constexpr const char* kDatasetFile = "dataset.safetensors";
void save_dataset(const std::filesystem::path& dir, const sdk::Dataset& d);
sdk::Dataset load_dataset(const std::filesystem::path& dir);
// Throws StageError if shapes/dtypes break the SDK's contract (catches plugin bugs early).
void check_dataset(const sdk::Dataset& d, int64_t vocab_size, const std::string& who);

}  // namespace repro
