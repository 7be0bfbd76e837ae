// The [report] section of a spec: tables (ours beside the paper's numbers), figures and claims, and
// the paper artifact each reproduces. Loading checks every reference, so a report that loads renders.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "error.hpp"

namespace repro {

class TomlReader;
struct Spec;

// The test id a table's train_set column pins: a cell's own training set, scored at the end of training
// ([train] score_train), not one of the grid's test sets.
inline const std::string kTrainSetTest = "@train";

// Picks cells of the grid: pins some of the dimensions "train", "test", "model" to ids. Seeds are
// always averaged over.
struct Selector {
  std::string id, label;
  std::map<std::string, std::string> pins;
  std::string metric;  // a column's own metric (tables whose columns measure different things); "" = the table's
};

// A number the paper printed, or that it marked "fail" (accuracy below fail_below) or did not report.
struct PaperValue {
  enum Kind { kNumber, kFail, kMissing } kind = kMissing;
  double value = 0;
};

struct PaperNumbers {
  std::string source;  // e.g. "Table 1 of arXiv 2410.15678"
  std::vector<std::string> rows, cols;        // selector ids of the table
  std::vector<std::vector<PaperValue>> values;  // [row][col], in percent after `scale`
  double tolerance = 5.0;   // |ours - paper| <= tolerance (points) counts as agreement
  double fail_below = 5.0;  // a "fail" cell agrees when ours is below this (the paper's "< 5 %")
};

struct TableSpec {
  std::string id, title, metric, artifact;
  std::string row_dim, col_dim;  // "train" | "test" | "model", or "cells" when listed explicitly
  std::vector<Selector> rows, cols;
  std::map<std::string, std::string> fixed;  // pins shared by every cell
  std::optional<PaperNumbers> paper;
  Location loc;
};

// One operand of a claim check: a constant, our mean for a table cell, or the paper's number for it.
// A number; table[row, col] (ours) or paper.table[row, col]; or figure[series, x]: the point of a sweep figure's
// series (the id of its series dimension: a test or train dataset, a model, an architecture) at x, in %.
struct ClaimTerm {
  enum Kind { kNumber, kOurs, kPaper, kFigure } kind = kNumber;
  double number = 0, sign = 1;   // kFigure: number = x
  std::string table, row, col;  // kFigure: table = figure id, row = series id, col = x as written
};

// "lhs op rhs" with sums of terms on each side, or agrees(<table>): every compared cell within tolerance.
struct ClaimCheck {
  std::string text;
  std::vector<ClaimTerm> lhs, rhs;
  std::string op;  // < <= > >= or "agrees"
  std::string table;  // for agrees
};

struct ClaimSpec {
  std::string id, text, artifact;
  std::vector<ClaimCheck> checks;  // verdict rule: all pass = holds, none = fails, else partial
  Location loc;
};

struct FigureSpec {
  std::string id, title, kind, artifact, caption;  // kind: matrix | sweep | phase | curve
  std::map<std::string, std::string> pins;         // train/test/model
  // sweep / phase / curve: only models whose id matches one of these globs (empty = every model), e.g. to keep
  // ablation models out of a phase diagram whose axes would otherwise average them in.
  std::vector<std::string> models;
  std::string metric = "query_accuracy";
  // matrix: which saved probe matrix, of which example, layer and seed
  std::string matrix = "mixing";  // mixing | info_flow
  int64_t example = 0, layer = -1, seed = 0;  // layer -1 = the last
  // sweep / phase: axes read from the results ("subset.<field>", "subset" (a numeric subset name, e.g. the anchor
  // pair "43"), "model.<config key>", "test.<param>",
  // "train.<param>"; x may also be "alternative": the share of answers that were accepted alternative k, e.g.
  // the region of K1V1*); sweep draws one line per `series` value (model | architecture | train | test).
  // curve: y is a field of the training log (train_loss, or per epoch valid_loss / valid_query_accuracy /
  // valid_example_accuracy), one line per cell, x = optimizer step.
  std::string x, y, series = "model";
  std::string xlabel, ylabel;
  bool logx = false;
  Location loc;
};

struct ReportSpec {
  std::vector<TableSpec> tables;
  std::vector<FigureSpec> figures;
  std::vector<ClaimSpec> claims;
};

// Accuracies (shown in %) first, then the language-model metrics of stages/lm_metrics.hpp.
inline const std::vector<std::string>& accuracy_metric_names() {
  static const std::vector<std::string> m = {"example_accuracy", "query_accuracy", "token_accuracy"};
  return m;
}
// The interventions probe's (stages/interventions.hpp): fractions of examples, shown in %, like accuracies.
inline const std::vector<std::string>& agreement_metric_names() {
  static const std::vector<std::string> m = {"blocking_agreement", "blocking_agreement_min", "substitution_agreement",
                                             "substitution_agreement_min", "control_blocking_agreement"};
  return m;
}
// What a sweep or phase figure can plot: fractions, per subset too.
inline const std::vector<std::string>& fraction_metric_names() {
  static const std::vector<std::string> m = [] {
    auto v = accuracy_metric_names();
    v.insert(v.end(), agreement_metric_names().begin(), agreement_metric_names().end());
    return v;
  }();
  return m;
}
inline const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> m = [] {
    std::vector<std::string> v = {"example_accuracy", "query_accuracy",  "token_accuracy", "mc_accuracy",
                                  "mc_accuracy_norm", "perplexity",      "word_perplexity", "bits_per_byte"};
    v.insert(v.end(), agreement_metric_names().begin(), agreement_metric_names().end());
    return v;
  }();
  return m;
}

// Reads [report] of `spec` (datasets, models and grid already loaded). Throws UserError with location.
ReportSpec read_report(const TomlReader& report, const Spec& spec);

// Parses one claim check (exposed for tests); `where` prefixes errors.
ClaimCheck parse_check(const std::string& text, const std::string& where);

}  // namespace repro
