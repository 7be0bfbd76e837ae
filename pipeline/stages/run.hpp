// The pipeline driver: for each stale cell, generate -> train -> probe -> publish its result, then
// render the report. A cell is fresh when results/<spec>/<cell>.json carries the cell's current result
// key; fresh cells cost nothing, so a second `repro run` does no work.
#pragma once
#include <filesystem>
#include <optional>
#include <vector>
#include <string>
#include <vector>

#include "../core/distributed.hpp"
#include "../core/plan.hpp"
#include "../core/store.hpp"

namespace repro {

enum class Until { Generate, Train, Probe, Report };

struct RunOptions {
  std::filesystem::path store_dir = ".repro/store";
  std::filesystem::path results_root = "results";  // results/<spec name>/
  std::filesystem::path reports_dir = "reports";
  bool force = false, dry_run = false, pdf = true;
  bool measure = false;  // with dry_run: time a few training steps of each model on `device`
  int jobs = 1;
  std::vector<std::string> only;      // run only cells whose id matches one of these globs (empty = all)
  std::optional<std::string> device;  // overrides every model's train.device
  Until until = Until::Report;
  std::string cell;       // only this cell (its id)
  std::vector<int> gpus;  // --gpus: one worker process per entry (sweep.hpp), or, with `cell`, one rank each
  DistConfig dist;        // this process's place in a data-parallel group (world 1: none)
  // The command line (command first) that re-executes this run in a worker or rank, and, in a sweep
  // worker, the sweep's directory (sweep.hpp).
  std::vector<std::string> command_line;
  std::filesystem::path sweep_dir;
};

// The cell's published result carries its current result key. A result that lacks tests whose input was
// missing (sdk::MissingInput) counts as current only once its model has left the store: while the model is
// there, probing again is cheap and picks up a benchmark file provided since; without it, nothing retrains.
bool result_current(const Spec& spec, const Cell& cell, const RunOptions& opts, const Store& store);

// generate -> train -> probe -> publish one cell (until opts.until). With `data_parallel`, this process
// is one rank of the cell's training; only rank 0 probes and publishes.
void run_cell(const Spec& spec, const PluginRegistry& plugins, const Store& store, const Cell& cell,
              const RunOptions& opts, DataParallel* data_parallel = nullptr);
// The cells whose published result is not current (every cell with opts.force, or for generate/train,
// which pass every cell through the store).
std::vector<const Cell*> stale_cells(const std::vector<Cell>& cells, const Spec& spec, const RunOptions& opts);

// Returns the process exit code: 0 all cells done, 1 some cell failed.
int run_spec(const Spec& spec, const PluginRegistry& plugins, const RunOptions& opts);
std::filesystem::path results_dir(const Spec& spec, const RunOptions& opts);

}  // namespace repro
