#include "report_claims.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>

#include "../core/spec.hpp"
#include "report_figures.hpp"
#include "report_tables.hpp"

namespace repro {

namespace {

const TableSpec& table_named(const Spec& spec, const std::string& id) {
  return *std::find_if(spec.report.tables.begin(), spec.report.tables.end(), [&](const TableSpec& t) { return t.id == id; });
}

size_t selector_index(const std::vector<Selector>& v, const std::string& id) {
  return static_cast<size_t>(std::find_if(v.begin(), v.end(), [&](const Selector& s) { return s.id == id; }) - v.begin());
}

// A side of a check: the sum of its terms, and the variance of that sum's seed mean (sum of sd² / n over our
// terms with two or more seeds; the paper's numbers and constants add none).
struct Side {
  double value = 0, var = 0;
};

// nullopt when a term has no number (cell not run, or the paper printed none).
std::optional<Side> value_of(const Spec& spec, const std::vector<Cell>& cells, const Results& res,
                               const std::vector<ClaimTerm>& terms) {
  double sum = 0, var = 0;
  for (const auto& t : terms) {
    if (t.kind == ClaimTerm::kNumber) {
      sum += t.sign * t.number;
      continue;
    }
    if (t.kind == ClaimTerm::kFigure) {
      const FigureSpec& f = *std::find_if(spec.report.figures.begin(), spec.report.figures.end(),
                                          [&](const FigureSpec& g) { return g.id == t.table; });
      const std::string series = series_label(spec, f, t.row);
      const double x = t.number;
      const auto pts = sweep_points(spec, cells, res, f);
      const auto p = std::find_if(pts.begin(), pts.end(), [&](const SweepPoint& q) {
        return q.series == series && std::abs(q.x - x) <= 1e-9 * std::max(1.0, std::abs(x));
      });
      if (p == pts.end()) return std::nullopt;
      sum += t.sign * 100 * p->value;  // in %, as the tables
      continue;
    }
    const TableSpec& table = table_named(spec, t.table);
    const TableCell c = table_cell(spec, cells, res, table, selector_index(table.rows, t.row),
                                   selector_index(table.cols, t.col));
    if (t.kind == ClaimTerm::kOurs) {
      if (c.ours.n == 0) return std::nullopt;
      sum += t.sign * c.ours.mean;
      if (c.ours.n > 1) var += c.ours.sd * c.ours.sd / static_cast<double>(c.ours.n);
    } else {
      if (c.paper.kind != PaperValue::kNumber) return std::nullopt;
      sum += t.sign * c.paper.value;
    }
  }
  return Side{sum, var};
}

CheckOutcome judge_check(const Spec& spec, const std::vector<Cell>& cells, const Results& res, const ClaimCheck& k) {
  CheckOutcome out;
  if (k.op == "agrees") {
    const TableSpec& t = table_named(spec, k.table);
    const TableVerdict v = table_verdict(spec, cells, res, t);
    out.state = v.compared == 0 ? CheckOutcome::kNotRun : v.agree == v.compared ? CheckOutcome::kPass : CheckOutcome::kFail;
    out.detail = fmt::format("`{}`: {} of {} compared cells within ±{}{}{}", k.text, v.agree, v.compared,
                             t.paper->tolerance, v.not_run ? fmt::format(", {} not run", v.not_run) : "",
                             v.not_scored ? fmt::format(", {} not scored", v.not_scored) : "");
    return out;
  }
  const auto l = value_of(spec, cells, res, k.lhs), r = value_of(spec, cells, res, k.rhs);
  if (!l || !r) {
    out.detail = fmt::format("`{}`: not run", k.text);
    return out;
  }
  const double a = l->value, b = r->value, se = std::sqrt(l->var + r->var);
  const bool pass = k.op == "<" ? a < b : k.op == "<=" ? a <= b : k.op == ">" ? a > b : a >= b;
  out.state = pass ? CheckOutcome::kPass : CheckOutcome::kFail;
  out.detail = fmt::format("`{}`: {:.1f} {} {:.1f}", k.text, a, k.op, b);
  if (se > 0 && std::abs(a - b) < kNoiseSE * se) {  // 3 seeds cannot tell the sides apart: no verdict either way
    out.state = CheckOutcome::kNoise;
    out.detail += fmt::format(" (differ by {:.2g}, under {} standard errors of the seed means, {:.2g})", std::abs(a - b),
                              kNoiseSE, kNoiseSE * se);
  }
  return out;
}

}  // namespace

ClaimVerdict judge_claim(const Spec& spec, const std::vector<Cell>& cells, const Results& res, const ClaimSpec& c) {
  ClaimVerdict v;
  size_t pass = 0, fail = 0, noise = 0;
  for (const auto& k : c.checks) {
    v.checks.push_back(judge_check(spec, cells, res, k));
    pass += v.checks.back().state == CheckOutcome::kPass;
    fail += v.checks.back().state == CheckOutcome::kFail;
    noise += v.checks.back().state == CheckOutcome::kNoise;
  }
  const size_t n = c.checks.size();
  v.word = pass + fail + noise == 0 ? "not run"
           : pass == n              ? "holds"
           : fail == n              ? "fails"
           : pass + fail == 0       ? "within noise"
                                    : "partial";
  return v;
}

std::string render_claims(const Spec& spec, const std::vector<Cell>& cells, const Results& res) {
  if (spec.report.claims.empty()) return "";
  std::ostringstream o;
  o << "## Claims\n\nEach claim's verdict follows from its checks (written in the spec, evaluated on the numbers "
       "above): all pass = **holds**, none passes = **fails**, otherwise **partial**; **not run** when no check "
       "has its numbers. A comparison whose two sides differ by less than " << kNoiseSE << " standard errors of their "
       "seed means (each of our terms: its sample std over seeds / √seeds) is **≈**, within seed noise: it neither "
       "passes nor fails, and a claim with only such checks is **within noise** (with 3 seeds this band is lenient: "
       "a t-test at 95 % would ask for about 4.3).\n\n| claim | verdict | checks |\n|---|---|---|\n";
  for (const auto& c : spec.report.claims) {
    const ClaimVerdict v = judge_claim(spec, cells, res, c);
    std::string details;
    for (const auto& k : v.checks)
      details += (details.empty() ? "" : "; ") + k.detail +
                 (k.state == CheckOutcome::kPass   ? " ✓"
                  : k.state == CheckOutcome::kFail ? " ✗"
                  : k.state == CheckOutcome::kNoise ? " ≈"
                                                    : "");
    o << "| " << c.text << " | **" << v.word << "** | " << details << " |\n";
  }
  return o.str() + "\n";
}

}  // namespace repro
