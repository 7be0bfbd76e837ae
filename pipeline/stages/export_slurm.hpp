// `repro export slurm <spec>`: an sbatch array script with one task per stale cell. Each task runs
// `repro train <spec> --cell <id>` (or `probe`, which also publishes the cell's result) against a
// store that every node sees; the store's locks and atomic renames make concurrent tasks safe, and a
// requeued task resumes its cell from the last checkpoint.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "run.hpp"

namespace repro {

struct SlurmExport {
  std::filesystem::path binary;        // the repro binary the tasks run (absolute)
  std::filesystem::path workdir;       // where tasks start (absolute): relative paths in the spec resolve here
  std::string spec_path;
  std::string stage = "train";         // train | probe
  std::vector<std::string> task_args;  // --store, --results, --device, --plugin-path …, forwarded verbatim
  std::vector<std::string> sbatch;     // extra #SBATCH options, e.g. "--partition=gpu"
  bool gpu = true;                     // request one GPU per task (--gres=gpu:1)
};

// The script's text; UserError when `stale` is empty (an array needs at least one task).
std::string slurm_array_script(const Spec& spec, const std::vector<const Cell*>& stale, const SlurmExport& how);

// 'text' quoted for bash.
std::string shell_quote(const std::string& text);

}  // namespace repro
