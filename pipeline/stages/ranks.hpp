// Data-parallel training of one cell. `repro train <spec> --cell ID --gpus 0,1` starts one child per
// listed GPU (rank i pinned to gpus[i] by CUDA_VISIBLE_DEVICES; on CPU, one Gloo rank per entry) that
// meet at a TCPStore on a free port of 127.0.0.1; a rank started by another launcher (torchrun, srun
// with RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT, or --rank/--world-size/--master) runs run_rank directly.
#pragma once
#include <vector>

#include "run.hpp"

namespace repro {

// Starts the ranks of opts.cell and waits; when one fails the others are stopped. Returns 0 or 1 (failed).
int launch_ranks(const Spec& spec, const PluginRegistry& plugins, const RunOptions& opts);

// This process's rank of opts.cell (stale: the cell if its result is not current, as this rank sees it;
// rank 0's view decides). Returns 0 or 1 (failed).
int run_rank(const Spec& spec, const PluginRegistry& plugins, const Store& store, const std::vector<Cell>& cells,
             const std::vector<const Cell*>& stale, const RunOptions& opts);

}  // namespace repro
