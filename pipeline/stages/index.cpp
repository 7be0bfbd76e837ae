#include "index.hpp"

#include <fmt/format.h>

#include <sstream>

#include "../core/fs.hpp"
#include "../core/toml_reader.hpp"
#include "report_claims.hpp"
#include "report_figures.hpp"
#include "report_tables.hpp"

namespace repro {
namespace fs = std::filesystem;

namespace {

struct Artifact {
  std::string id, paper, title;
  std::vector<std::string> rows;  // "| spec | reproduced by | status |" cells
};

std::vector<Artifact> read_artifacts(const fs::path& file) {
  toml::table root = parse_toml_file(file.string());
  TomlReader top(root, file.string(), "");
  std::vector<Artifact> out;
  for (const auto& a : top.array_of_tables("artifact")) {
    out.push_back({a.str("id"), a.str("paper"), a.str("title"), {}});
    a.finish();
  }
  top.finish();
  return out;
}

Artifact& find(std::vector<Artifact>& all, const std::string& id, const Location& where, const std::string& file) {
  for (auto& a : all)
    if (a.id == id) return a;
  throw UserError(fmt::format("{}: artifact: no paper artifact '{}' in {}", where.str(), id, file));
}

}  // namespace

fs::path render_index(const fs::path& artifacts_toml, const std::vector<IndexedSpec>& specs, const fs::path& reports_dir) {
  auto all = read_artifacts(artifacts_toml);
  for (const auto& s : specs) {
    const Spec& spec = s.spec;
    const Results res = load_results(s.cells, s.results_dir);
    const std::string link = fmt::format("[{}]({}.md)", spec.name, spec.name);
    // A figure drawn or a claim judged on part of the grid says so: its verdict may change when the rest runs.
    const size_t run = res.with_results();
    const std::string part = run > 0 && run < s.cells.size() ? fmt::format(" ({} of {} cells run)", run, s.cells.size()) : "";
    for (const auto& t : spec.report.tables) {
      if (t.artifact.empty()) continue;
      const TableVerdict v = table_verdict(spec, s.cells, res, t);
      std::string status;
      if (t.paper) status = fmt::format("{} ({} of {} cells compared, {} agree)", v.word, v.compared, v.compared + v.not_run + v.not_scored, v.agree);
      else status = fmt::format("{} of {} cells run", res.with_results(), s.cells.size());
      find(all, t.artifact, t.loc, artifacts_toml.string()).rows.push_back(
          fmt::format("| {} | table \"{}\" | {} |", link, t.title, status));
    }
    const auto figs = report_figures(spec, s.cells, res);
    for (size_t i = 0; i < spec.report.figures.size(); ++i) {
      const auto& f = spec.report.figures[i];
      if (f.artifact.empty()) continue;
      find(all, f.artifact, f.loc, artifacts_toml.string()).rows.push_back(
          fmt::format("| {} | figure \"{}\" | {} |", link, f.title, figs[i].figure ? "drawn" + part : "not run"));
    }
    for (const auto& c : spec.report.claims) {
      if (c.artifact.empty()) continue;
      const std::string word = judge_claim(spec, s.cells, res, c).word;
      find(all, c.artifact, c.loc, artifacts_toml.string()).rows.push_back(
          fmt::format("| {} | claim \"{}\" | {}{} |", link, c.text, word, word == "not run" ? "" : part));
    }
  }
  std::ostringstream o;
  o << "# Paper artifacts and their status\n\n_Rendered by `repro index` from `" << artifacts_toml.string()
    << "`, the specs and their committed results. \"not run\": a spec exists but has no results yet; \"no spec "
       "tags it\": no spec names it as its `artifact` so far. A claim holds, fails, is partial or is within noise (its "
       "seeds cannot decide it) by the rule in its report's Claims section._\n\n| paper | artifact | spec | reproduced by | status |\n|---|---|---|---|---|\n";
  for (const auto& a : all) {
    if (a.rows.empty()) o << fmt::format("| {} | {} | — | — | no spec tags it |\n", a.paper, a.title);
    for (const auto& r : a.rows) o << fmt::format("| {} | {} {}\n", a.paper, a.title, r);
  }
  const fs::path md = reports_dir / "index.md";
  if (!fs::exists(md) || read_file(md) != o.str()) write_file_atomic(md, o.str());
  return md;
}

}  // namespace repro
