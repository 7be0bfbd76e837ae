#include "export_slurm.hpp"

#include <fmt/format.h>

#include "../core/error.hpp"
#include "../core/provenance.hpp"

namespace repro {

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char ch : text) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

std::string slurm_array_script(const Spec& spec, const std::vector<const Cell*>& stale, const SlurmExport& how) {
  if (stale.empty()) throw UserError(fmt::format("{}: every cell is up to date; nothing to export", spec.path));
  if (how.stage != "train" && how.stage != "probe")
    throw UserError("--stage: expected train or probe, got '" + how.stage + "'");
  std::string s = "#!/bin/bash\n";
  s += fmt::format("# Written by `repro export slurm` from {} (spec SHA-1 {}) at {}, {}.\n", spec.path, spec.hash,
                   git_revision(), utc_now());
  s += fmt::format("# One array task per stale cell ({} of them); each runs `repro {} --cell <id>` against the\n",
                   stale.size(), how.stage);
  s += "# shared store named below. Submit with `sbatch <this file>`; afterwards `repro run <spec>` with the same\n";
  s += "# --store probes whatever is not yet probed and renders the report.\n";
  s += fmt::format("#SBATCH --job-name=repro-{}\n", spec.name);
  s += fmt::format("#SBATCH --array=0-{}\n", stale.size() - 1);
  s += fmt::format("#SBATCH --output=repro-{}-%A_%a.log\n", spec.name);
  if (how.gpu) s += "#SBATCH --gres=gpu:1\n";
  for (const auto& o : how.sbatch) s += "#SBATCH " + o + "\n";
  s += "set -euo pipefail\n\ncells=(\n";
  for (const Cell* c : stale) s += "  " + shell_quote(c->id) + "\n";
  s += ")\n";
  s += "task=${SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is a Slurm array job}\n";
  s += "cd " + shell_quote(how.workdir.string()) + "\n";
  s += "exec " + shell_quote(how.binary.string()) + " " + how.stage + " " + shell_quote(how.spec_path) +
       " --cell \"${cells[$task]}\"";
  for (const auto& a : how.task_args) s += " " + shell_quote(a);
  return s + "\n";
}

}  // namespace repro
