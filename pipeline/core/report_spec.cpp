#include "report_spec.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>

#include "glob.hpp"
#include "spec.hpp"
#include "toml_reader.hpp"

namespace repro {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
const std::vector<std::string> kDims = {"train", "test", "model"};

const char* what_of(const std::string& dim) { return dim == "model" ? "model" : "dataset"; }

// Optional pins train/test/model of table `r`, each checked against the grid.
std::map<std::string, std::string> read_pins(const TomlReader& r, const Spec& spec) {
  std::map<std::string, std::string> pins;
  for (const auto& dim : kDims) {
    if (!r.has(dim)) {
      r.node(dim);  // a known key, for did-you-mean
      continue;
    }
    pins[dim] = r.str(dim);
    check_ids(r, dim, {pins[dim]}, grid_ids(spec, dim), what_of(dim));
  }
  return pins;
}

// rows/cols: a dimension name (one selector per grid id) or an array of {id, label, train/test/model}.
std::vector<Selector> read_selectors(const TomlReader& t, const std::string& key, const Spec& spec, std::string& dim) {
  std::vector<Selector> out;
  const toml::node* n = t.node(key);
  if (n && n->is_array()) {
    dim = "cells";
    for (const auto& c : t.array_of_tables(key)) {
      Selector s;
      s.id = c.str("id");
      s.label = c.cell_text("label", s.id);
      s.pins = read_pins(c, spec);
      if (key == "cols" && c.has("metric")) s.metric = c.choice("metric", "", metric_names());
      c.finish();
      out.push_back(s);
    }
    return out;
  }
  dim = t.choice(key, key == "rows" ? "test" : "model", kDims);
  for (const auto& id : grid_ids(spec, dim))
    out.push_back({id, dim == "model" ? spec.models.at(id).label : spec.datasets.at(id).label, {{dim, id}}});
  return out;
}

// Every cell of the table must name one train dataset, one test dataset and one model.
void check_cells(const TomlReader& t, const TableSpec& out, const Spec& spec) {
  for (const auto& r : out.rows)
    for (const auto& c : out.cols) {
      std::map<std::string, std::string> at = out.fixed;
      for (const auto* s : {&r, &c})
        for (const auto& [dim, id] : s->pins) {
          if (at.count(dim) && at[dim] != id)
            t.fail("cols", fmt::format("cell ({}, {}) pins {} twice ('{}' and '{}')", r.id, c.id, dim, at[dim], id));
          at[dim] = id;
        }
      for (const auto& dim : kDims)
        if (!at.count(dim) && grid_ids(spec, dim).size() > 1)
          t.fail("rows", fmt::format("the grid has {} values of '{}', which is neither rows nor cols: pin one "
                                     "with {} = \"<id>\"", grid_ids(spec, dim).size(), dim, dim));
    }
}

std::vector<std::string> ids_of(const std::vector<Selector>& v) {
  std::vector<std::string> ids;
  for (const auto& s : v) ids.push_back(s.id);
  return ids;
}

// The ids a paper row may name: the table's rows, and for rows of models or datasets also those the spec defines
// outside this scale's grid (a small scale runs some of the paper's rows; the report lists the others as not run).
std::vector<std::string> paper_row_ids(const TableSpec& table, const Spec& spec) {
  std::vector<std::string> ids = ids_of(table.rows);
  if (table.row_dim == "model")
    for (const auto& [id, _] : spec.models) ids.push_back(id);
  else if (table.row_dim == "test" || table.row_dim == "train")
    for (const auto& [id, _] : spec.datasets) ids.push_back(id);
  return ids;
}

PaperNumbers read_paper(const TomlReader& r, const TableSpec& table, const Spec& spec) {
  PaperNumbers p;
  p.source = r.str("source");
  p.rows = r.has("rows") ? r.strings("rows") : ids_of(table.rows);
  p.cols = r.has("cols") ? r.strings("cols") : ids_of(table.cols);
  check_ids(r, "rows", p.rows, paper_row_ids(table, spec), "table row");
  check_ids(r, "cols", p.cols, ids_of(table.cols), "table column");
  p.tolerance = r.number("tolerance", p.tolerance, 0, kInf);
  p.fail_below = r.number("fail_below", p.fail_below, 0, kInf);
  const double scale = r.number("scale", 1.0, 0, kInf);  // 100 for numbers printed as fractions
  const toml::node* v = r.node("values");
  if (!v || !v->is_array()) r.fail("values", "expected an array of rows (arrays of numbers, \"fail\" or \"-\")");
  for (const auto& row : *v->as_array()) {
    if (!row.is_array()) r.fail("values", "expected each row to be an array");
    std::vector<PaperValue> out;
    for (const auto& x : *row.as_array()) {
      if (x.is_number())
        out.push_back({PaperValue::kNumber,
                       scale * (x.is_integer() ? double(x.as_integer()->get()) : x.as_floating_point()->get())});
      else if (x.is_string() && x.as_string()->get() == "-") out.push_back({});
      else if (x.is_string() && x.as_string()->get() == "fail") out.push_back({PaperValue::kFail, 0});
      else r.fail("values", "expected numbers, \"fail\" (the paper marks the cell failed) or \"-\" (not reported)");
    }
    if (out.size() != p.cols.size())
      r.fail("values", fmt::format("a row has {} values but there are {} cols", out.size(), p.cols.size()));
    p.values.push_back(out);
  }
  if (p.values.size() != p.rows.size())
    r.fail("values", fmt::format("{} rows of values but {} row names", p.values.size(), p.rows.size()));
  r.finish();
  return p;
}

// An id of [a-z0-9] and the characters in `extra`; `why` says what uses it.
std::string read_id(const TomlReader& r, const std::string& dflt, const std::string& extra, const char* why) {
  std::string id = r.str("id", dflt);
  if (id.empty() || id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789" + extra) != std::string::npos)
    r.fail("id", fmt::format("expected a name of [a-z0-9{}] ({})", extra, why));
  return id;
}

TableSpec read_table(const TomlReader& t, const Spec& spec, size_t index) {
  TableSpec out;
  out.loc = t.where();
  out.id = read_id(t, "table" + std::to_string(index), "_", "claims refer to it as <id>[row, col]");
  out.title = t.cell_text("title", out.id);
  out.artifact = t.str("artifact", "");
  out.metric = t.choice("metric", "example_accuracy", metric_names());
  out.rows = read_selectors(t, "rows", spec, out.row_dim);
  out.cols = read_selectors(t, "cols", spec, out.col_dim);
  if (out.row_dim == out.col_dim && out.row_dim != "cells") t.fail("cols", "rows and cols must be different dimensions");
  if (t.has("train_set")) {  // a column (or row) of the cells' own training sets, first, beside the test sets
    if (out.col_dim != "test" && out.row_dim != "test")
      t.fail("train_set", "expected a table whose rows or cols are \"test\" (the training set is one more test)");
    if (std::none_of(spec.models.begin(), spec.models.end(), [](const auto& m) { return m.second.train.score_train; }))
      t.fail("train_set", "no model has [train] score_train = true, so no cell would have its training set scored");
    auto& tests = out.col_dim == "test" ? out.cols : out.rows;
    tests.insert(tests.begin(), {"train_set", t.cell_text("train_set", ""), {{"test", kTrainSetTest}}});
  }
  out.fixed = read_pins(t, spec);
  for (const auto& [dim, _] : out.fixed)
    if (dim == out.row_dim || dim == out.col_dim) t.fail(dim, "pins a dimension that is already rows or cols");
  check_cells(t, out, spec);
  if (auto p = t.sub_opt("paper")) out.paper = read_paper(*p, out, spec);
  t.finish();
  return out;
}

// "subset.<field>", "model.<config key>", "test.<param>" or "train.<param>".
void check_axis(const TomlReader& f, const std::string& key, const std::string& axis) {
  if (axis == "alternative" && key == "x") return;  // which accepted answer was given (K1V1*: the region, Fig. 7a)
  if (axis == "subset") return;                       // the subset's name as a number (an anchor pair "43")
  const auto dot = axis.find('.');
  const std::string head = axis.substr(0, dot);
  if (dot == std::string::npos || dot + 1 == axis.size() ||
      (head != "subset" && head != "model" && head != "test" && head != "train"))
    f.fail(key, fmt::format("expected subset, subset.<field>, model.<config key>, test.<param>, train.<param> or (x "
                            "only) alternative, got \"{}\"", axis));
}

// A curve's y: a field of the training log. track.<dataset>.<metric> needs the dataset in some model's [train] track.
std::string read_curve_field(const TomlReader& f, const Spec& spec) {
  const std::vector<std::string> fixed = {"train_loss", "valid_loss", "valid_query_accuracy", "valid_example_accuracy"};
  const std::string y = f.str("y", "train_loss");
  if (std::find(fixed.begin(), fixed.end(), y) != fixed.end()) return y;
  std::set<std::string> fields;
  for (const auto& [_, m] : spec.models)
    for (const auto& id : m.train.track)
      for (const char* metric : {"loss", "query_accuracy", "example_accuracy"}) fields.insert("track." + id + "." + metric);
  if (fields.count(y)) return y;
  f.fail("y", fmt::format("expected one of {}{} (track.<dataset>.<metric> for a dataset in [train] track)",
                          fmt::join(fixed, ", "), fields.empty() ? "" : ", " + fmt::format("{}", fmt::join(fields, ", "))));
}

// `models`: ids or globs, each matching at least one model of the grid.
void read_model_globs(const TomlReader& f, const Spec& spec, FigureSpec& out) {
  if (!f.has("models")) return;
  if (out.pins.count("model")) f.fail("models", "the figure already pins one model");
  out.models = f.strings("models");
  for (const auto& g : out.models)
    if (std::none_of(spec.grid.models.begin(), spec.grid.models.end(),
                     [&](const std::string& id) { return matches(g, id); }))
      f.fail("models", fmt::format("'{}' matches no model of the grid", g));
}

FigureSpec read_figure(const TomlReader& f, const Spec& spec, size_t index) {
  FigureSpec out;
  out.loc = f.where();
  out.id = read_id(f, "figure" + std::to_string(index), "-_", "it names reports/figures/<spec>-<id>.png");
  out.kind = f.choice("kind", "", {"matrix", "sweep", "phase", "curve"});
  out.title = f.cell_text("title", out.id);
  out.caption = f.str("caption", "");
  out.artifact = f.str("artifact", "");
  out.pins = read_pins(f, spec);
  out.xlabel = f.str("xlabel", "");
  out.ylabel = f.str("ylabel", "");
  if (out.kind == "matrix") {
    out.matrix = f.choice("matrix", out.matrix, {"mixing", "info_flow"});
    if (std::find(spec.probe.matrices.begin(), spec.probe.matrices.end(), out.matrix) == spec.probe.matrices.end())
      f.fail("matrix", fmt::format("[probe] matrices does not save \"{}\"", out.matrix));
    out.example = f.integer("example", 0, 0, std::numeric_limits<int32_t>::max());
    if (std::find(spec.probe.examples.begin(), spec.probe.examples.end(), out.example) == spec.probe.examples.end())
      f.fail("example", fmt::format("test example {} is not in [probe] examples", out.example));
    out.layer = f.integer("layer", -1, -1, 1 << 16);
    if (out.layer >= 0 && !spec.probe.layers.empty() &&
        std::find(spec.probe.layers.begin(), spec.probe.layers.end(), out.layer) == spec.probe.layers.end())
      f.fail("layer", fmt::format("layer {} is not in [probe] layers", out.layer));
    out.seed = f.integer("seed", spec.grid.seeds.front(), 0, std::numeric_limits<int64_t>::max());
    for (const auto& dim : kDims)
      if (!out.pins.count(dim)) {
        if (grid_ids(spec, dim).size() > 1) f.fail(dim, "a matrix figure needs one " + dim + ": pin it");
        out.pins[dim] = grid_ids(spec, dim).front();
      }
  } else {
    read_model_globs(f, spec, out);
  }
  if (out.kind == "sweep" || out.kind == "phase") {
    out.metric = f.choice("metric", out.metric, fraction_metric_names());
    out.x = f.str("x");
    check_axis(f, "x", out.x);
    if (out.kind == "phase") {
      out.y = f.str("y");
      check_axis(f, "y", out.y);
    } else {
      out.series = f.choice("series", out.series, {"model", "architecture", "train", "test"});
      out.logx = f.boolean("logx", false);
    }
    if (out.x.rfind("subset.", 0) == 0 && out.metric == "token_accuracy")
      f.fail("metric", "subsets carry query_accuracy and example_accuracy only");
  } else if (out.kind == "curve") {
    out.y = read_curve_field(f, spec);
  }
  f.finish();
  return out;
}

// --- claim checks: "<sum> <op> <sum>" where a term is a number, table[row, col], paper.table[row, col] or
// figure[series, x] (a sweep figure's point).
struct CheckParser {
  const std::string& s;
  const std::string& where;
  size_t i = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw UserError(fmt::format("{}: \"{}\": at character {}: {}", where, s, i + 1, what));
  }
  void skip() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool eat(const std::string& tok) {
    skip();
    if (s.compare(i, tok.size(), tok) != 0) return false;
    i += tok.size();
    return true;
  }
  std::string name(const char* extra) {
    skip();
    const size_t b = i;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || std::string(extra).find(s[i]) != std::string::npos))
      ++i;
    if (b == i) fail("expected a name");
    return s.substr(b, i - b);
  }
  ClaimTerm term(double sign) {
    skip();
    ClaimTerm t;
    t.sign = sign;
    if (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) {
      size_t used = 0;
      try {
        t.number = std::stod(s.substr(i), &used);
      } catch (const std::exception&) {
        fail("expected a number");
      }
      i += used;
      return t;
    }
    t.kind = eat("paper.") ? ClaimTerm::kPaper : ClaimTerm::kOurs;
    t.table = name("_-");
    if (!eat("[")) fail("expected '[' after the table or figure id (table[row, col], figure[series, x])");
    t.row = name("_-.");
    if (!eat(",")) fail("expected ',' between row and column ids");
    t.col = name("_-.");
    if (!eat("]")) fail("expected ']'");
    return t;
  }
  std::vector<ClaimTerm> sum() {
    std::vector<ClaimTerm> out{term(1)};
    for (;;) {
      if (eat("+")) out.push_back(term(1));
      else if (eat("-")) out.push_back(term(-1));
      else return out;
    }
  }
  ClaimCheck parse() {
    ClaimCheck c;
    c.text = s;
    if (eat("agrees(")) {
      c.op = "agrees";
      c.table = name("_");
      if (!eat(")")) fail("expected ')'");
    } else {
      c.lhs = sum();
      for (const char* op : {"<=", ">=", "<", ">"})
        if (eat(op)) {
          c.op = op;
          break;
        }
      if (c.op.empty()) fail("expected one of < <= > >=");
      c.rhs = sum();
    }
    skip();
    if (i != s.size()) fail("unexpected text after the check");
    return c;
  }
};

const TableSpec* find_table(const std::vector<TableSpec>& tables, const std::string& id) {
  for (const auto& t : tables)
    if (t.id == id) return &t;
  return nullptr;
}

// The ids a sweep figure's series can name: those of its series dimension.
std::vector<std::string> series_ids(const Spec& spec, const FigureSpec& f) {
  if (f.series == "test") return spec.grid.test;
  if (f.series == "train") return spec.grid.train;
  std::set<std::string> ids;
  for (const auto& m : spec.grid.models) ids.insert(f.series == "architecture" ? spec.models.at(m).architecture : m);
  return {ids.begin(), ids.end()};
}

// Resolves a term that names no table to a sweep figure's point (series id and x checked), or fails.
void check_figure_term(const TomlReader& c, const Spec& spec, const std::vector<FigureSpec>& figures, ClaimTerm& t,
                       const std::vector<std::string>& table_ids, const std::string& where) {
  std::vector<std::string> names = table_ids;
  const FigureSpec* fig = nullptr;
  for (const auto& f : figures)
    if (f.kind == "sweep") {
      names.push_back(f.id);
      if (f.id == t.table) fig = &f;
    }
  check_ids(c, "holds_if", {t.table}, names, "table or sweep figure");
  if (t.kind == ClaimTerm::kPaper) throw UserError(fmt::format("{}: figure '{}' has no paper numbers", where, t.table));
  t.kind = ClaimTerm::kFigure;
  const std::string noun = fmt::format("series of figure '{}' ({})", fig->id, fig->series);
  check_ids(c, "holds_if", {t.row}, series_ids(spec, *fig), noun.c_str());
  size_t used = 0;
  try {
    t.number = std::stod(t.col, &used);  // x, parsed once here
  } catch (const std::exception&) {
  }
  if (used == 0 || used != t.col.size())
    throw UserError(fmt::format("{}: figure '{}': x must be a number, got '{}'", where, t.table, t.col));
}

ClaimSpec read_claim(const TomlReader& c, const Spec& spec, const std::vector<TableSpec>& tables,
                     const std::vector<FigureSpec>& figures, size_t index) {
  ClaimSpec out;
  out.loc = c.where();
  out.id = c.str("id", "claim" + std::to_string(index));
  out.text = c.cell_text("claim");
  out.artifact = c.str("artifact", "");
  const auto checks = c.strings("holds_if");
  std::vector<std::string> table_ids;
  for (const auto& t : tables) table_ids.push_back(t.id);
  for (size_t k = 0; k < checks.size(); ++k) {
    const std::string where = fmt::format("{}: {}[{}]", c.where("holds_if").str(), c.dotted("holds_if"), k);
    ClaimCheck check = CheckParser{checks[k], where}.parse();
    for (auto* side : {&check.lhs, &check.rhs})  // a name that is no table's must be a sweep figure's
      for (auto& t : *side)
        if (t.kind != ClaimTerm::kNumber && !find_table(tables, t.table))
          check_figure_term(c, spec, figures, t, table_ids, where);
    std::vector<ClaimTerm> refs = check.lhs;
    refs.insert(refs.end(), check.rhs.begin(), check.rhs.end());
    if (check.op == "agrees") refs.push_back({ClaimTerm::kPaper, 0, 1, check.table, "", ""});
    for (const auto& t : refs) {
      if (t.kind == ClaimTerm::kNumber || t.kind == ClaimTerm::kFigure) continue;
      check_ids(c, "holds_if", {t.table}, table_ids, "table");
      const TableSpec& table = *find_table(tables, t.table);
      if (t.kind == ClaimTerm::kPaper && !table.paper)
        throw UserError(fmt::format("{}: table '{}' has no paper numbers", where, t.table));
      if (check.op == "agrees") continue;
      check_ids(c, "holds_if", {t.row}, ids_of(table.rows), "row");
      check_ids(c, "holds_if", {t.col}, ids_of(table.cols), "column");
    }
    out.checks.push_back(std::move(check));
  }
  c.finish();
  return out;
}

}  // namespace

ClaimCheck parse_check(const std::string& text, const std::string& where) { return CheckParser{text, where}.parse(); }

ReportSpec read_report(const TomlReader& rep, const Spec& spec) {
  ReportSpec out;
  std::set<std::string> ids;
  size_t i = 0;
  for (const auto& t : rep.array_of_tables("tables")) {
    out.tables.push_back(read_table(t, spec, ++i));
    if (!ids.insert(out.tables.back().id).second) t.fail("id", "another table has this id");
  }
  i = 0;
  for (const auto& f : rep.array_of_tables("figures")) {
    out.figures.push_back(read_figure(f, spec, ++i));
    if (!ids.insert("figure:" + out.figures.back().id).second) f.fail("id", "another figure has this id");
  }
  i = 0;
  for (const auto& c : rep.array_of_tables("claims")) out.claims.push_back(read_claim(c, spec, out.tables, out.figures, ++i));
  rep.finish();
  return out;
}

}  // namespace repro
