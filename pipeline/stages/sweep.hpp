// Independent cells across worker processes: `repro run <spec> --gpus 0,1,1` starts one child per
// entry, pinned to that GPU by CUDA_VISIBLE_DEVICES (repeats allowed: several workers can share a GPU
// that one small model leaves mostly idle). Workers claim cells with non-blocking file locks in the
// store (<store>/locks/cell-<result key>), so no two processes — of this sweep or of another one on
// the same store — ever run one cell at once. A killed worker's lock dies with it: the cell is taken
// over by another worker or by the replacement the parent starts, and training resumes from the
// cell's last checkpoint. Each worker records every cell's outcome in the sweep's directory
// (<store>/sweeps/<id>/<cell>.done | .failed); the parent only starts, waits, restarts and counts.
#pragma once
#include <vector>

#include "run.hpp"

namespace repro {

// Runs `stale` on opts.gpus.size() worker processes; returns how many cells failed or never finished.
int run_sweep(const Spec& spec, const std::vector<const Cell*>& stale, const RunOptions& opts);

// The worker's side (opts.sweep_dir set): claims and runs cells until none is left. Exit code 0, or 1
// when a cell it ran failed.
int sweep_worker(const Spec& spec, const PluginRegistry& plugins, const Store& store, const std::vector<Cell>& cells,
                 const RunOptions& opts);

// The command line of a child that runs cells for a parent: `run` becomes `probe` (the parent renders
// the report once), and the parent-only options are dropped.
std::vector<std::string> child_command_line(const RunOptions& opts);

}  // namespace repro
