// The wall time of one training step as the train stage runs it (forward under the cell's precision, backward,
// gradient clipping, the fused AdamW), on random tokens of a given batch and length. `repro-bench-models` prints
// it; `repro run --dry-run --measure` multiplies it by each cell's optimizer steps: for tiny models neither FLOP
// nor a fixed steps/s rate predicts the time (results/bench/achilles-step-rate-h200.json).
#pragma once
#include <repro/sdk.hpp>

#include "../core/spec.hpp"

namespace repro {

struct StepTime {
  double seconds = 0;   // per step, the mean of the timed steps (after 2 warm-up steps)
  double peak_gib = 0;  // peak GPU memory allocated (0 on CPU)
};

// Trains `model` (already on `device`, in train mode) for 2 + steps steps; its weights change.
StepTime measure_train_step(sdk::Model& model, int64_t vocab_size, int64_t batch, int64_t length,
                            const torch::Device& device, const TrainSpec& settings, int64_t steps);

}  // namespace repro
