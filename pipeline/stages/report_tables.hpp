// A report table: our mean ± spread over seeds for each (row, col) cell beside the paper's number, the
// difference, and how many cells agree within the spec's tolerance.
#pragma once
#include <string>
#include <vector>

#include "report_data.hpp"

namespace repro {

struct TableCell {
  Stat ours;          // percent
  PaperValue paper;   // kMissing when the table has no paper numbers for the cell
};

struct TableVerdict {
  size_t compared = 0, agree = 0, not_run = 0;
  size_t not_scored = 0;  // run, but their result lacks the score (a training set not scored)
  std::string word;  // agrees | partly agrees | disagrees | not run | "" (no paper numbers)
};

TableCell table_cell(const Spec& spec, const std::vector<Cell>& cells, const Results& res, const TableSpec& t,
                     size_t row, size_t col);
// Whether a cell matches the paper (ours within tolerance, or below fail_below for "fail"); nullopt
// when one side is missing.
std::optional<bool> agrees(const TableCell& c, const PaperNumbers& p);
TableVerdict table_verdict(const Spec& spec, const std::vector<Cell>& cells, const Results& res, const TableSpec& t);
std::string render_table(const Spec& spec, const std::vector<Cell>& cells, const Results& res, const TableSpec& t);

}  // namespace repro
