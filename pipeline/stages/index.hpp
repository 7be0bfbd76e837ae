// reports/index.md: every table and figure of the papers (paper/artifacts.toml) with what reproduces it
// (spec, report section) and its status from the committed results: the table verdict, "drawn", the
// claim verdict, "not run", or "no spec yet".
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "../core/plan.hpp"

namespace repro {

struct IndexedSpec {
  Spec spec;
  std::vector<Cell> cells;
  std::filesystem::path results_dir;
};

// Throws UserError when a spec names an artifact the artifact list does not have.
std::filesystem::path render_index(const std::filesystem::path& artifacts_toml, const std::vector<IndexedSpec>& specs,
                                   const std::filesystem::path& reports_dir);

}  // namespace repro
