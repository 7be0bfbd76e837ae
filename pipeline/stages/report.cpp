#include "report.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "../core/fs.hpp"
#include "../core/log.hpp"
#include "../core/params.hpp"
#include "figures.hpp"
#include "results.hpp"

namespace repro {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct Stat {
  double mean = 0, sd = 0;
  size_t n = 0;
};
Stat stat(const std::vector<double>& v) {
  Stat s;
  s.n = v.size();
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(s.sd / static_cast<double>(v.size() - 1));
  }
  return s;
}

std::string metric_title(const std::string& m) {
  return m == "example_accuracy" ? "example accuracy (all answer tokens of an example right)"
         : m == "query_accuracy" ? "query accuracy (all tokens of a query right; mean over subsets)"
                                 : "token accuracy (answer tokens right)";
}

// Results of the current plan, by cell id.
struct Loaded {
  std::map<std::string, json> by_cell;
  size_t missing = 0;
};

Loaded load(const std::vector<Cell>& cells, const fs::path& dir) {
  Loaded l;
  for (const auto& c : cells) {
    if (auto r = read_result(dir, c.id, c.result_key)) l.by_cell[c.id] = *r;
    else ++l.missing;
  }
  return l;
}

std::string label(const Spec& s, const std::string& dim, const std::string& id) {
  if (dim == "model") return s.models.at(id).label;
  return s.datasets.at(id).label;
}

const std::vector<std::string>& ids_of(const Spec& s, const std::string& dim) {
  return dim == "train" ? s.grid.train : dim == "test" ? s.grid.test : s.grid.models;
}

std::string render_table(const Spec& spec, const TableSpec& t, const std::vector<Cell>& cells, const Loaded& res) {
  std::ostringstream o;
  o << "### " << t.title << "\n\n";
  o << "Metric: " << metric_title(t.metric) << ", in %, mean ± sample std over seeds (n seeds in brackets when > 1).";
  for (const auto& [dim, id] : t.fixed) o << " " << dim << " = " << label(spec, dim, id) << ".";
  if (t.paper) o << " Paper numbers: " << t.paper->source << "; Δ = ours − paper.";
  o << "\n\n";
  const auto& rows = ids_of(spec, t.rows);
  const auto& cols = ids_of(spec, t.cols);
  o << "| " << t.rows << " ↓ / " << t.cols << " → |";
  for (const auto& c : cols) o << " " << label(spec, t.cols, c) << " |";
  o << "\n|---|";
  for (size_t i = 0; i < cols.size(); ++i) o << "---|";
  o << "\n";
  size_t compared = 0, agree = 0, not_run = 0;
  for (const auto& r : rows) {
    o << "| " << label(spec, t.rows, r) << " |";
    for (const auto& c : cols) {
      std::map<std::string, std::string> at = t.fixed;
      at[t.rows] = r;
      at[t.cols] = c;
      std::vector<double> vals;
      for (const auto& cell : cells) {
        if ((at.count("train") && cell.train_dataset != at["train"]) || (at.count("model") && cell.model != at["model"]))
          continue;
        auto it = res.by_cell.find(cell.id);
        if (it == res.by_cell.end()) continue;
        const std::string test = at.count("test") ? at["test"] : spec.grid.test.front();
        const auto& tests = it->second["tests"];
        if (tests.contains(test)) vals.push_back(tests[test][t.metric].get<double>());
      }
      std::optional<double> paper;
      if (t.paper) {
        auto ri = std::find(t.paper->rows.begin(), t.paper->rows.end(), r);
        auto ci = std::find(t.paper->cols.begin(), t.paper->cols.end(), c);
        if (ri != t.paper->rows.end() && ci != t.paper->cols.end())
          paper = t.paper->values[ri - t.paper->rows.begin()][ci - t.paper->cols.begin()];
      }
      std::string cell_text;
      if (vals.empty()) {
        cell_text = "not run";
        ++not_run;
      } else {
        Stat s = stat(vals);
        cell_text = s.n > 1 ? fmt::format("{:.1f} ± {:.1f} ({})", 100 * s.mean, 100 * s.sd, s.n)
                            : fmt::format("{:.1f}", 100 * s.mean);
        if (paper) {
          const double d = 100 * s.mean - *paper;
          ++compared;
          if (std::fabs(d) <= t.paper->tolerance) ++agree;
          cell_text += fmt::format(" · paper {:.2f} · Δ {:+.1f}", *paper, d);
        }
      }
      if (vals.empty() && paper) cell_text += fmt::format(" · paper {:.2f}", *paper);
      o << " " << cell_text << " |";
    }
    o << "\n";
  }
  if (t.paper) {
    std::string verdict = compared == 0 ? "not run"
                          : agree == compared ? "agrees"
                          : agree == 0 ? "disagrees" : "partly agrees";
    o << fmt::format("\n**Verdict: {}** — {} of {} compared cells within ±{} points of the paper{}.\n", verdict, agree,
                     compared, t.paper->tolerance, not_run ? fmt::format("; {} cells not run", not_run) : "");
  }
  return o.str();
}

std::string methods(const Spec& spec, const Loaded& res) {
  std::ostringstream o;
  o << "## Methods\n\n";
  if (!spec.methods.empty()) o << spec.methods << "\n\n";
  o << "**Datasets** (generated by task plugins, deterministic in (params, split, seed)):\n\n"
    << "| id | task | params | train / valid / test examples per subset | data seed |\n|---|---|---|---|---|\n";
  for (const auto& [id, d] : spec.datasets) {
    std::string ps;
    for (const auto& [k, v] : d.params.values()) ps += (ps.empty() ? "" : ", ") + k + " = " + to_text(v);
    o << fmt::format("| {} | {} | {} | {} / {} / {} | {} |\n", id, d.task, ps, d.train_examples, d.valid_examples,
                     d.test_examples, d.seed);
  }
  o << "\n**Models** (parameter counts from the trained cells):\n\n| id | architecture | config | parameters |\n|---|---|---|---|\n";
  for (const auto& [id, m] : spec.models) {
    std::string cfg, params = "not run";
    for (const auto& [k, v] : m.config.values()) cfg += (cfg.empty() ? "" : ", ") + k + " = " + to_text(v);
    for (const auto& [_, r] : res.by_cell)
      if (r["model"] == id) params = fmt::format("{}", r["training"]["parameters"].get<int64_t>());
    o << fmt::format("| {} | {} | {} | {} |\n", id, m.architecture, cfg, params);
  }
  o << "\n**Training** (per model; AdamW, weight decay on matrices and embeddings only, loss = cross-entropy over "
       "the task's loss mask):\n\n| model | settings |\n|---|---|\n";
  for (const auto& [id, m] : spec.models) {
    std::string settings;
    const json ts = train_settings_json(m.train);  // named: items() of a temporary would dangle
    for (const auto& [k, v] : ts.items()) settings += (settings.empty() ? "" : ", ") + k + " = " + v.dump();
    o << "| " << id << " | " << settings << " |\n";
  }
  o << "\nGrid: train on {" << fmt::format("{}", fmt::join(spec.grid.train, ", ")) << "} × models {"
    << fmt::format("{}", fmt::join(spec.grid.models, ", ")) << "} × seeds {"
    << fmt::format("{}", fmt::join(spec.grid.seeds, ", ")) << "}; every trained model is tested on {"
    << fmt::format("{}", fmt::join(spec.grid.test, ", ")) << "}.\n\n";
  return o.str();
}

std::string provenance(const std::vector<Cell>& cells, const Loaded& res) {
  std::ostringstream o;
  o << "## Provenance\n\nEvery number above comes from these runs (results/*.json carry the full record).\n\n"
    << "| cell | seed | device | git | spec sha1 | train s | probe s | libtorch | finished |\n"
    << "|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& c : cells) {
    auto it = res.by_cell.find(c.id);
    if (it == res.by_cell.end()) {
      o << "| " << c.id << " | " << c.seed << " | not run | | | | | | |\n";
      continue;
    }
    const auto& p = it->second["provenance"];
    const std::string git = p["git"].get<std::string>();
    const std::string git_short = git.substr(0, 12) + (git.find("-dirty") != std::string::npos ? " (dirty)" : "") +
                                  (git.find("REPRO_GIT_SHA") != std::string::npos ? " (stated)" : "");
    o << fmt::format("| {} | {} | {} | {} | {} | {:.1f} | {:.1f} | {} | {} |\n", c.id, c.seed,
                     p["device"].get<std::string>(), git_short,
                     p["spec_sha1"].get<std::string>().substr(0, 12), p["train_seconds"].get<double>(),
                     p["probe_seconds"].get<double>(), p["versions"]["libtorch"].get<std::string>(),
                     p["finished_at"].get<std::string>());
  }
  return o.str();
}

void render_pdf(const fs::path& md) {
  if (std::system("command -v pandoc >/dev/null 2>&1") != 0) {
    log::warn("pandoc not found: {} not converted to PDF", md.string());
    return;
  }
  fs::path pdf = md;
  pdf.replace_extension(".pdf");
  fs::path tmp = pdf;
  tmp += ".tmp.pdf";
  const std::string cmd = fmt::format(
      "cd '{}' && pandoc '{}' -o '{}' --resource-path=. --pdf-engine=xelatex -V 'mainfont=DejaVu Sans' "
      "-V geometry:margin=1.8cm -V fontsize=10pt 2>&1",
      md.parent_path().string(), md.filename().string(), tmp.filename().string());
  if (std::system((cmd + " >/dev/null").c_str()) != 0) {
    log::warn("pandoc failed to make {} (needs xelatex: texlive-xetex, fonts-dejavu-core)", pdf.string());
    fs::remove(tmp);
    return;
  }
  fsync_path(tmp);
  fs::rename(tmp, pdf);
}

}  // namespace

fs::path render_report(const Spec& spec, const std::vector<Cell>& cells, const ReportPaths& paths) {
  Loaded res = load(cells, paths.results_dir);
  std::ostringstream o;
  o << "# " << spec.title << "\n\n";
  if (!spec.description.empty()) o << spec.description << "\n\n";
  o << fmt::format("_Rendered by `repro report {}` from `{}`: {} of {} cells have results{}._\n\n", spec.path,
                   paths.results_dir.string(), res.by_cell.size(), cells.size(),
                   res.missing ? fmt::format(", {} not run", res.missing) : "");
  o << "## Results\n\n";
  for (const auto& t : spec.tables) o << render_table(spec, t, cells, res) << "\n";
  if (spec.tables.empty()) o << "(The spec asks for no tables.)\n\n";

  std::vector<CurveSeries> curves;
  for (const auto& c : cells) {
    auto it = res.by_cell.find(c.id);
    if (it == res.by_cell.end() || !it->second.contains("curve")) continue;
    CurveSeries s{c.id, {}};
    for (const auto& p : it->second["curve"])
      if (p.contains("train_loss")) s.points.emplace_back(p["step"].get<double>(), p["train_loss"].get<double>());
    if (!s.points.empty()) curves.push_back(s);
  }
  if (!curves.empty()) {
    const fs::path png = paths.reports_dir / "figures" / (spec.name + "-training-loss.png");
    if (plot_curves(curves, png, "Training loss (" + spec.name + ")", "optimizer step", "cross-entropy (loss mask)"))
      o << "## Figures\n\n![Training loss per cell](figures/" << png.filename().string() << ")\n\n";
    else
      o << "## Figures\n\nTraining-loss figure not rendered: gnuplot is not available.\n\n";
  }
  o << methods(spec, res);
  o << "**Metrics.** " << metric_title("example_accuracy") << "; " << metric_title("query_accuracy") << "; "
    << metric_title("token_accuracy") << ".\n\n";
  o << provenance(cells, res);
  const fs::path md = paths.reports_dir / (spec.name + ".md");
  fs::path pdf = md;
  pdf.replace_extension(".pdf");
  // Unchanged text: leave both files alone (no churn in committed reports, no LaTeX run).
  if (fs::exists(md) && read_file(md) == o.str() && (!paths.pdf || fs::exists(pdf))) return md;
  write_file_atomic(md, o.str());
  if (paths.pdf) render_pdf(md);
  return md;
}

}  // namespace repro
