// Batches of one training epoch. Examples of different lengths (a task's "length" meta, e.g. the
// paper's mixed 64..512-token MQAR grid) never share a batch, and each batch is cut to its length:
// models are causal, so trailing padding cannot change a loss, it only costs compute.
#pragma once
#include <repro/sdk.hpp>

#include <vector>

namespace repro {

struct Batch {
  torch::Tensor rows;  // [b] int64 example indices
  int64_t length;      // positions [0, length) are used
};

// Deterministic for (dataset, batch_size, seed, epoch, shuffle): a resumed run replays the same batches.
std::vector<Batch> epoch_batches(const sdk::Dataset& d, int64_t batch_size, uint64_t seed, int64_t epoch, bool shuffle);

// Per-example lengths: the "length" meta if the task provides one, else the full width.
std::vector<int64_t> example_lengths(const sdk::Dataset& d);

}  // namespace repro
