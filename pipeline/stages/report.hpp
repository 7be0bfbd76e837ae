// Stage 4, report: results/<spec>/ -> reports/<spec>.md (+ .pdf via pandoc, figures via gnuplot).
// Reads committed results only: no GPU, no training. Cells without a current result say "not run".
#pragma once
#include <filesystem>

#include "../core/plan.hpp"

namespace repro {

struct ReportPaths {
  std::filesystem::path results_dir, reports_dir;
  bool pdf = true;
};

// Returns the Markdown path written.
std::filesystem::path render_report(const Spec& spec, const std::vector<Cell>& cells, const ReportPaths& paths);

}  // namespace repro
