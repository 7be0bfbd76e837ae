#include "report_figures.hpp"

#include <fmt/format.h>
#include <repro/sdk.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "../core/glob.hpp"
#include "../core/spec.hpp"
#include "results.hpp"

namespace repro {
using json = nlohmann::json;

namespace {

std::string label_of(const Spec& spec, const std::string& dim, const std::string& id) {
  return dim == "model" ? spec.models.at(id).label : spec.datasets.at(id).label;
}

// A field of a subset name made of <letters><number> parts joined by '-' (the mqar task's "L64-n4").
std::optional<double> subset_field(const std::string& subset, const std::string& field) {
  size_t b = 0;
  while (b <= subset.size()) {
    const size_t e = std::min(subset.find('-', b), subset.size());
    const std::string part = subset.substr(b, e - b);
    const size_t digits = part.find_first_of("0123456789.");
    if (digits != std::string::npos && part.substr(0, digits) == field) return std::stod(part.substr(digits));
    b = e + 1;
  }
  return std::nullopt;
}

// A subset name that is a number (the composite task's anchor pairs "11" .. "44").
std::optional<double> subset_number(const std::string& subset) {
  if (subset.empty() || subset.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stod(subset);
}

std::optional<double> numeric(const sdk::Params& p, const std::string& key) {
  auto it = p.values().find(key);
  if (it == p.values().end()) return std::nullopt;
  if (auto* i = std::get_if<int64_t>(&it->second)) return static_cast<double>(*i);
  if (auto* d = std::get_if<double>(&it->second)) return *d;
  if (auto* b = std::get_if<bool>(&it->second)) return *b ? 1.0 : 0.0;
  return std::nullopt;
}

// The value of an axis at (cell, test, subset): nullopt when it has none there.
std::optional<double> axis_value(const Spec& spec, const std::string& axis, const Cell& c, const std::string& test,
                                 const std::string& subset) {
  if (axis == "subset") return subset_number(subset);
  const size_t dot = axis.find('.');
  const std::string head = axis.substr(0, dot), key = axis.substr(dot + 1);
  if (head == "subset") return subset_field(subset, key);
  if (head == "model") return numeric(spec.models.at(c.model).config, key);
  return numeric(spec.datasets.at(head == "test" ? test : c.train_dataset).params, key);
}

std::string series_of(const Spec& spec, const FigureSpec& f, const Cell& c, const std::string& test) {
  if (f.series == "architecture") return series_label(spec, f, spec.models.at(c.model).architecture);
  return series_label(spec, f, f.series == "model" ? c.model : f.series == "train" ? c.train_dataset : test);
}

std::string axis_title(const std::string& axis, const std::string& given) {
  return given.empty() ? axis : given;
}

// --- matrices

struct Markers {
  std::vector<double> red, yellow;
};

// Red: the edges of each run of key/value positions; yellow: the column the query rows put the most
// weight on (the diagonal left out: every position weighs itself).
Markers markers(const torch::Tensor& m, const torch::Tensor& role) {
  Markers k;
  const int64_t L = m.size(0);
  auto r = role.defined() ? role.to(torch::kInt64) : torch::zeros({L}, torch::kInt64);
  auto kv = [&](int64_t i) { return r[i].item<int64_t>() == sdk::kKey || r[i].item<int64_t>() == sdk::kValue; };
  for (int64_t i = 0; i < L; ++i) {
    if (kv(i) && (i == 0 || !kv(i - 1))) k.red.push_back(i - 0.5);
    if (kv(i) && (i == L - 1 || !kv(i + 1))) k.red.push_back(i + 0.5);
  }
  auto rows = (r == sdk::kQuery);
  if (rows.sum().item<int64_t>() == 0) rows = torch::ones({L}, torch::kBool);
  auto off_diag = m.clone();
  off_diag.fill_diagonal_(0);
  auto mass = (off_diag * rows.to(m.dtype()).unsqueeze(1)).sum(0);
  k.yellow.push_back(static_cast<double>(mass.argmax().item<int64_t>()));
  return k;
}

ReportFigure matrix_figure(const Spec& spec, const std::vector<Cell>& cells, const Results& res, const FigureSpec& f,
                           const std::string& name) {
  ReportFigure out{f.title, std::nullopt, ""};
  const Cell* cell = nullptr;
  for (const Cell* c : cells_at(cells, f.pins))  // in an lr sweep, only the chosen lr's cell keeps its result
    if (c->seed == f.seed && (!cell || res.by_cell.count(c->id))) cell = c;
  auto it = cell ? res.by_cell.find(cell->id) : res.by_cell.end();
  if (it == res.by_cell.end()) {
    out.note = "Not run: no result for this cell yet.";
    return out;
  }
  const auto tensors = read_probe_tensors(res.dir, it->second);
  const std::string test = f.pins.at("test"), prefix = test + "." + f.matrix + ".layer";
  int64_t layer = f.layer;
  if (tensors && layer < 0)
    for (const auto& [k, _] : *tensors)
      if (k.rfind(prefix, 0) == 0) layer = std::max<int64_t>(layer, std::stoll(k.substr(prefix.size())));
  if (!tensors || !tensors->count(prefix + std::to_string(layer)) || !tensors->count(test + ".example")) {
    out.note = "Not run: the result has no saved " + f.matrix + " matrix for this layer (the probe saves what [probe] asks for).";
    return out;
  }
  const auto examples = tensors->at(test + ".example");
  const auto row = (examples == f.example).nonzero();
  if (row.size(0) == 0) {
    out.note = fmt::format("Not run: example {} was not probed.", f.example);
    return out;
  }
  const int64_t e = row[0][0].item<int64_t>();
  auto m = tensors->at(prefix + std::to_string(layer))[e].to(torch::kDouble);
  auto meta = [&](const std::string& n) {
    auto k = tensors->find(test + ".meta." + n);
    return k == tensors->end() ? torch::Tensor() : k->second[e];
  };
  if (auto len = meta("length"); len.defined()) {
    const int64_t L = len.item<int64_t>();
    m = m.narrow(0, 0, L).narrow(1, 0, L);
  }
  const int64_t L = m.size(0);
  auto role = meta("role");
  if (role.defined()) role = role.narrow(0, 0, L);
  const Markers mk = markers(m, role);
  Heatmap h;
  h.title = fmt::format("{}: layer {}, {} (trained on {}), example {}", spec.models.at(f.pins.at("model")).label,
                        layer + 1, label_of(spec, "test", test), label_of(spec, "train", f.pins.at("train")), f.example);
  if (f.title != f.id) h.title = f.title;
  h.xlabel = axis_title("position j (source)", f.xlabel);
  h.ylabel = axis_title("position i (output)", f.ylabel);
  h.cblabel = f.matrix == "mixing" ? "weight" : "|S|";
  h.matrix_orientation = true;
  h.red_cols = mk.red;
  h.yellow_cols = mk.yellow;
  auto acc = m.accessor<double, 2>();
  std::vector<double> lower;
  for (int64_t i = 0; i < L; ++i) {
    h.values.emplace_back(L);
    for (int64_t j = 0; j < L; ++j) {
      h.values[i][j] = j <= i ? acc[i][j] : NAN;
      if (j <= i) lower.push_back(std::fabs(acc[i][j]));
    }
  }
  std::sort(lower.begin(), lower.end());
  h.cbmax = lower.empty() ? 0 : lower[static_cast<size_t>(0.99 * static_cast<double>(lower.size() - 1))];
  out.figure = heatmap_figure(name, h);
  out.note = fmt::format(
      "{} of layer {} (1-based) for test example {} of seed {}{}; lighter = larger. Red dashed lines: edges of the "
      "key-value positions; yellow dashed line: the position the query rows weigh most (diagonal excluded). Colour "
      "scale clipped at the 99th percentile of the lower triangle.",
      f.matrix == "mixing" ? "Mixing matrix (for SSMs the attention-like matrix of Eq. 5, mean |α| over channels; for "
                             "attention the weights averaged over heads)"
                           : "Information-flow matrix S = Mask∘CᵀB (mean |S| over channels)",
      layer + 1, f.example, f.seed, f.caption.empty() ? "" : ". " + f.caption);
  return out;
}

// --- sweeps and phase diagrams

// The cells a sweep, phase or curve figure draws from: its pins, then its `models` globs.
std::vector<const Cell*> figure_cells(const std::vector<Cell>& cells, const FigureSpec& f) {
  auto out = cells_at(cells, f.pins);
  if (f.models.empty()) return out;
  const auto unlisted = [&](const Cell* c) { return !matches_any(f.models, c->model); };
  out.erase(std::remove_if(out.begin(), out.end(), unlisted), out.end());
  return out;
}

ReportFigure sweep_figure(const Spec& spec, const std::vector<Cell>& cells, const Results& res, const FigureSpec& f,
                          const std::string& name) {
  ReportFigure out{f.title, std::nullopt, f.caption};
  const auto pts = sweep_points(spec, cells, res, f);
  if (pts.empty()) {
    out.note = "Not run: no result has values along these axes yet.";
    return out;
  }
  if (f.kind == "sweep") {
    LinePlot p;
    p.title = f.title;
    p.xlabel = axis_title(f.x, f.xlabel);
    // The metric's name without its parenthesised definition (the report's Metrics paragraph has that), so the
    // label fits beside the plot.
    const std::string title = metric_title(f.metric);
    p.ylabel = axis_title(title.substr(0, title.find(" (")) + ", %", f.ylabel);
    p.logx = f.logx;
    // Named categories (the composite task's anchor pairs 11, 12, ..., 44) are spaced evenly in their numeric
    // order and labelled with their names: at their numeric values 11-14 would crowd together, far from 21.
    std::map<double, std::string> categories;
    for (const auto& pt : pts)
      if (!pt.x_name.empty()) categories[pt.x] = pt.x_name;
    std::map<double, double> rank;
    for (const auto& [x, _] : categories) rank.emplace(x, static_cast<double>(rank.size()));
    std::set<double> xs;
    for (const auto& pt : pts) {
      if (p.series.empty() || p.series.back().name != pt.series) p.series.push_back({pt.series, {}});
      const double x = categories.empty() ? pt.x : rank.at(pt.x);
      p.series.back().points.emplace_back(x, 100 * pt.value);
      xs.insert(x);
    }
    if (!categories.empty()) {
      p.logx = false;
      for (const auto& [x, name] : categories) p.xtics.emplace_back(rank.at(x), name);
    } else if (xs.size() <= 16) {  // tics at the measured values (e.g. 4, 8, 16 pairs), not at round numbers
      for (double x : xs) p.xtics.emplace_back(x, fmt::format("{:g}", x));
    }
    out.figure = line_figure(name, p);
    return out;
  }
  std::set<double> xs, ys;
  for (const auto& pt : pts) {
    xs.insert(pt.x);
    ys.insert(pt.y);
  }
  const std::vector<double> xv(xs.begin(), xs.end()), yv(ys.begin(), ys.end());
  Heatmap h;
  h.title = f.title;
  h.xlabel = axis_title(f.x, f.xlabel);
  h.ylabel = axis_title(f.y, f.ylabel);
  h.cblabel = "accuracy";
  h.labels = true;
  h.cbmax = 1;
  h.values.assign(yv.size(), std::vector<double>(xv.size(), NAN));
  for (const auto& pt : pts)
    h.values[std::find(yv.begin(), yv.end(), pt.y) - yv.begin()][std::find(xv.begin(), xv.end(), pt.x) - xv.begin()] =
        pt.value;
  for (double x : xv) h.xtics.push_back(fmt::format("{:g}", x));
  for (double y : yv) h.ytics.push_back(fmt::format("{:g}", y));
  out.figure = heatmap_figure(name, h);
  return out;
}

// "Training loss", "Validation query_accuracy", "example_accuracy on <dataset label>" (track.<dataset>.<metric>).
std::string curve_title(const Spec& spec, const std::string& y) {
  if (y == "train_loss") return "Training loss";
  if (y.rfind("valid_", 0) == 0) return "Validation " + y.substr(6);
  const auto dot = y.rfind('.');
  return y.substr(dot + 1) + " on " + spec.datasets.at(y.substr(6, dot - 6)).label;
}

// One line per cell of a field of the training log against the optimizer step (`y` = train_loss: every logged
// point; valid_* and track.*: one point per epoch).
ReportFigure curve_figure(const Spec& spec, const std::vector<const Cell*>& cells, const Results& res,
                          const std::string& y, const std::string& name) {
  LinePlot p;
  const bool loss = y.size() >= 4 && y.compare(y.size() - 4, 4, "loss") == 0;
  p.title = curve_title(spec, y) + " (" + spec.name + ")";
  p.xlabel = "optimizer step";
  p.ylabel = loss ? "cross-entropy (loss mask)" : "accuracy";
  p.logy = loss;
  p.points = y != "train_loss";
  for (const Cell* c : cells) {
    auto it = res.by_cell.find(c->id);
    if (it == res.by_cell.end() || !it->second.contains("curve")) continue;
    CurveSeries s{c->id, {}};
    for (const auto& pt : it->second["curve"])
      if (pt.contains(y)) s.points.emplace_back(pt["step"].get<double>(), pt[y].get<double>());
    if (!s.points.empty()) p.series.push_back(s);
  }
  ReportFigure out{y == "train_loss" ? "Training loss per cell" : p.title, std::nullopt, ""};
  if (!p.series.empty()) out.figure = line_figure(name, p);
  else out.note = "Not run: no result has this curve yet.";
  return out;
}

}  // namespace

std::string series_label(const Spec& spec, const FigureSpec& f, const std::string& id) {
  return f.series == "architecture" ? id : label_of(spec, f.series, id);
}

std::vector<SweepPoint> sweep_points(const Spec& spec, const std::vector<Cell>& cells, const Results& res,
                                     const FigureSpec& f) {
  std::map<std::tuple<std::string, double, double>, std::vector<double>> acc;
  std::map<double, std::string> names;  // x = "subset": a subset number's name
  const bool by_subset = f.x.rfind("subset", 0) == 0 || f.y.rfind("subset", 0) == 0;
  for (const Cell* c : figure_cells(cells, f)) {
    auto it = res.by_cell.find(c->id);
    if (it == res.by_cell.end()) continue;
    for (const auto& test : spec.grid.test) {
      if (f.pins.count("test") && f.pins.at("test") != test) continue;
      std::vector<std::string> subsets{""};
      const json& tests = it->second["tests"];
      if (by_subset && tests.contains(test) && tests[test].contains("subsets")) {
        subsets.clear();
        for (const auto& [s, _] : tests[test]["subsets"].items()) subsets.push_back(s);
      }
      if (f.x == "alternative") {  // share of scored tokens answered with accepted alternative k
        if (tests.contains(test) && tests[test].contains("alternatives"))
          for (size_t k = 0; k < tests[test]["alternatives"].size(); ++k)
            acc[{series_of(spec, f, *c, test), static_cast<double>(k), 0}].push_back(tests[test]["alternatives"][k].get<double>());
        continue;
      }
      for (const auto& s : subsets) {
        auto x = axis_value(spec, f.x, *c, test, s);
        auto y = f.y.empty() ? std::optional<double>(0) : axis_value(spec, f.y, *c, test, s);
        auto v = metric_of(it->second, test, f.metric, s);
        if (x && y && v) acc[{series_of(spec, f, *c, test), *x, *y}].push_back(*v);
        if (x && f.x == "subset") names[*x] = s;
      }
    }
  }
  std::vector<SweepPoint> out;
  for (const auto& [k, v] : acc)
    out.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), stat(v).mean, names.count(std::get<1>(k)) ? names[std::get<1>(k)] : ""});
  return out;
}

std::vector<ReportFigure> report_figures(const Spec& spec, const std::vector<Cell>& cells, const Results& res) {
  std::vector<ReportFigure> out;
  for (const auto& f : spec.report.figures) {
    const std::string name = spec.name + "-" + f.id;
    if (f.kind == "matrix") out.push_back(matrix_figure(spec, cells, res, f, name));
    else if (f.kind == "curve") {
      out.push_back(curve_figure(spec, figure_cells(cells, f), res, f.y, name));
      if (f.title != f.id) out.back().title = f.title;
      if (out.back().figure) out.back().note = f.caption;
    }
    else out.push_back(sweep_figure(spec, cells, res, f, name));
  }
  // Every report shows how training went, whether or not the spec asks for figures.
  if (std::none_of(spec.report.figures.begin(), spec.report.figures.end(), [](const FigureSpec& f) { return f.kind == "curve"; }))
    if (auto loss = curve_figure(spec, cells_at(cells, {}), res, "train_loss", spec.name + "-training-loss"); loss.figure)
      out.push_back(loss);
  return out;
}

}  // namespace repro
