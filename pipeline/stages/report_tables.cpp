#include "report_tables.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "../core/spec.hpp"

namespace repro {

namespace {

size_t index_of(const std::vector<std::string>& v, const std::string& id) {
  return static_cast<size_t>(std::find(v.begin(), v.end(), id) - v.begin());
}

// Accuracies in % with one decimal; perplexities with two.
std::string ours_text(const Stat& s, bool percent) {
  if (s.n == 0) return s.unscored ? "not scored" : "not run";
  const int d = percent ? 1 : 2;
  const std::string also = s.unscored ? fmt::format(" (and {} not scored)", s.unscored) : "";
  return (s.n > 1 ? fmt::format("{:.{}f} ± {:.{}f} ({}: {:.{}f}–{:.{}f})", s.mean, d, s.sd, d, s.n, s.lo, d, s.hi, d)
                  : fmt::format("{:.{}f}", s.mean, d)) + also;
}

const std::string& column_metric(const TableSpec& t, size_t col) {
  return t.cols[col].metric.empty() ? t.metric : t.cols[col].metric;
}

// "Metric: <title>, in %" for one metric; per column when the columns have their own.
std::string metric_line(const TableSpec& t) {
  std::set<std::string> used;
  for (size_t c = 0; c < t.cols.size(); ++c) used.insert(column_metric(t, c));
  if (used.size() == 1 && used.count(t.metric) && metric_is_percent(t.metric))
    return "Metric: " + metric_title(t.metric) + ", in %";
  std::string s = "Metrics by column:";
  for (size_t c = 0; c < t.cols.size(); ++c)
    s += fmt::format(" {} — {}{};", t.cols[c].label, metric_title(column_metric(t, c)),
                     metric_is_percent(column_metric(t, c)) ? ", in %" : "");
  s.pop_back();
  return s;
}

}  // namespace

TableCell table_cell(const Spec& spec, const std::vector<Cell>& cells, const Results& res, const TableSpec& t,
                     size_t row, size_t col) {
  std::map<std::string, std::string> pins = t.fixed;
  for (const auto& [d, id] : t.rows[row].pins) pins[d] = id;
  for (const auto& [d, id] : t.cols[col].pins) pins[d] = id;
  TableCell c;
  c.ours = ours_at(spec, cells, res, pins, column_metric(t, col));
  if (t.paper) {
    const size_t r = index_of(t.paper->rows, t.rows[row].id), k = index_of(t.paper->cols, t.cols[col].id);
    if (r < t.paper->rows.size() && k < t.paper->cols.size()) c.paper = t.paper->values[r][k];
  }
  return c;
}

std::optional<bool> agrees(const TableCell& c, const PaperNumbers& p) {
  if (c.ours.n == 0 || c.paper.kind == PaperValue::kMissing) return std::nullopt;
  if (c.paper.kind == PaperValue::kFail) return c.ours.mean < p.fail_below;
  return std::fabs(c.ours.mean - c.paper.value) <= p.tolerance;
}

TableVerdict table_verdict(const Spec& spec, const std::vector<Cell>& cells, const Results& res, const TableSpec& t) {
  TableVerdict v;
  if (!t.paper) return v;
  for (size_t r = 0; r < t.rows.size(); ++r)
    for (size_t c = 0; c < t.cols.size(); ++c) {
      const TableCell cell = table_cell(spec, cells, res, t, r, c);
      if (cell.paper.kind == PaperValue::kMissing) continue;
      if (auto a = agrees(cell, *t.paper)) {
        ++v.compared;
        v.agree += *a;
      } else {
        ++(cell.ours.unscored ? v.not_scored : v.not_run);
      }
    }
  v.word = v.compared == 0 ? "not run" : v.agree == v.compared ? "agrees" : v.agree == 0 ? "disagrees" : "partly agrees";
  return v;
}

std::string render_table(const Spec& spec, const std::vector<Cell>& cells, const Results& res, const TableSpec& t) {
  std::ostringstream o;
  o << "### " << t.title << "\n\n";
  o << metric_line(t) << ", ours = mean ± sample std over seeds (when > 1, in brackets: the number of seeds and the "
       "lowest–highest seed).";
  for (const auto& [dim, id] : t.fixed)
    o << " " << dim << " = " << (dim == "model" ? spec.models.at(id).label : spec.datasets.at(id).label) << ".";
  if (t.paper)
    o << " Paper: the number the paper prints (" << t.paper->source << "; \"fail\" = the paper marks it failed, < "
      << t.paper->fail_below << "); Δ = ours − paper.";
  o << "\n\n";
  const std::string corner = t.row_dim == "cells" ? "" : t.row_dim + " ↓ / " + (t.col_dim == "cells" ? "" : t.col_dim + " →");
  o << "| " << corner << " |";
  for (const auto& c : t.cols) o << " " << c.label << " |";
  o << "\n|---|";
  for (size_t i = 0; i < t.cols.size(); ++i) o << "---|";
  o << "\n";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    o << "| " << t.rows[r].label << " |";
    for (size_t c = 0; c < t.cols.size(); ++c) {
      const TableCell cell = table_cell(spec, cells, res, t, r, c);
      const bool percent = metric_is_percent(column_metric(t, c));
      std::string text = "ours " + ours_text(cell.ours, percent);
      if (cell.paper.kind == PaperValue::kNumber) {
        text += fmt::format(" · paper {:.2f}", cell.paper.value);
        if (cell.ours.n) text += fmt::format(" · Δ {:+.1f}", cell.ours.mean - cell.paper.value);
      } else if (cell.paper.kind == PaperValue::kFail) {
        text += fmt::format(" · paper fail (< {})", t.paper->fail_below);
      }
      if (!t.paper) text = ours_text(cell.ours, percent);
      o << " " << text << " |";
    }
    o << "\n";
  }
  if (t.paper) {
    const TableVerdict v = table_verdict(spec, cells, res, t);
    o << fmt::format("\n**Verdict: {}** — {} of {} compared cells within ±{} points of the paper{}{}.\n", v.word, v.agree,
                     v.compared, t.paper->tolerance, v.not_run ? fmt::format("; {} cells not run", v.not_run) : "",
                     v.not_scored ? fmt::format("; {} cells run without their training set scored", v.not_scored) : "");
    std::vector<std::string> outside;  // the paper's rows this scale's grid leaves out
    for (const auto& id : t.paper->rows)
      if (std::none_of(t.rows.begin(), t.rows.end(), [&](const auto& row) { return row.id == id; })) outside.push_back(id);
    if (!outside.empty())
      o << fmt::format("\nNot run at this scale (not in its grid, so not in the verdict): {} more of the paper's rows, {}.\n",
                       outside.size(), fmt::join(outside, ", "));
  }
  return o.str();
}

}  // namespace repro
