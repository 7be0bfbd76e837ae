// Learning-rate sweeps (grid.lrs): one cell per lr, trained with that lr, and reports that keep, per (train,
// model), only the lr whose selected checkpoints reach the lowest validation loss. Results here are written by
// the test; nothing is trained.
#include "core/fs.hpp"
#include "core/plan.hpp"
#include "core/spec.hpp"
#include "stages/lr_sweep.hpp"
#include "stages/report.hpp"
#include "stages/report_tables.hpp"
#include "stages/results.hpp"
#include "support.hpp"

using namespace repro;
using json = nlohmann::json;

namespace {

// test::tiny_spec with `grid` for its seeds (by default three lrs over two seeds), then `scales` and a table.
std::string sweep_spec(const std::string& grid = "seeds = [0, 1]\nlrs = [1e-3, 5e-4, 1e-4]\n",
                       const std::string& scales = "") {
  std::string s = test::tiny_spec();
  const std::string seeds = "seeds = [0]\n";
  return s.replace(s.find(seeds), seeds.size(), grid) + scales +
         "\n[[report.tables]]\nid = \"t\"\nmetric = \"query_accuracy\"\nrows = \"model\"\ncols = \"train\"\n";
}

struct Sweep {
  test::TempDir dir;
  Spec spec;
  std::vector<Cell> cells;
  explicit Sweep(const std::string& text = sweep_spec(), const std::string& scale = "") {
    spec = load_spec(dir.write("sweep.toml", text).string(), test::plugins(), scale);
    cells = plan_cells(spec, test::plugins());
  }
  std::filesystem::path results() const { return dir.path() / "results"; }
  // The result of the cell (lr, seed): query accuracy `acc`, per-epoch validation losses `valid`, checkpoint rule.
  void result(double lr, int64_t seed, double acc, const std::vector<double>& valid,
              const std::string& select = "last") const {
    json curve = json::array();
    for (double v : valid) curve.push_back({{"step", curve.size()}, {"valid_loss", v}});
    for (const auto& c : cells)
      if (c.lr == lr && c.seed == seed)
        write_result(results(), c.id,
                     {{"result_key", c.result_key},
                      {"model", c.model},
                      {"curve", curve},
                      {"training", {{"settings", {{"select", select}}}, {"parameters", 1000}}},
                      {"tests", {{"mqar", {{"query_accuracy", acc}}}}},
                      {"provenance",
                       {{"git", "0123456789abcdef"}, {"device", "cpu"}, {"spec_sha1", "fedcba9876543210"},
                        {"train_seconds", 1.0}, {"probe_seconds", 0.5}, {"versions", {{"libtorch", "2.11.0"}}},
                        {"finished_at", "2026-01-01T00:00:00Z"}}}});
  }
  Stat shown() const {
    const Results res = load_results(cells, results());
    return table_cell(spec, cells, res, spec.report.tables[0], 0, 0).ours;
  }
};

}  // namespace

// Each lr is its own cell, trained with that lr; an lr equal to the model's own keeps the unswept model key,
// so the store shares the model between a sweep and a spec without one.
TEST(LrSweepSpec, OneCellPerLrTrainedWithIt) {
  const Sweep plain(sweep_spec("seeds = [0]\n"));
  ASSERT_EQ(plain.cells.size(), 1u);
  EXPECT_EQ(plain.cells[0].id, "mqar__tf__s0");
  EXPECT_FALSE(plain.cells[0].lr);
  const Sweep swept(sweep_spec("seeds = [0]\nlrs = [1e-3, 1e-4]\n"));
  ASSERT_EQ(swept.cells.size(), 2u);
  EXPECT_EQ(swept.cells[0].id, "mqar__tf__lr0.001__s0");
  EXPECT_EQ(swept.cells[1].id, "mqar__tf__lr0.0001__s0");
  EXPECT_EQ(swept.cells[1].settings.lr, 1e-4);
  EXPECT_EQ(plain.cells[0].settings.lr, 1e-3);  // TrainSpec's default
  EXPECT_EQ(swept.cells[0].model_key, plain.cells[0].model_key);
  EXPECT_NE(swept.cells[1].model_key, plain.cells[0].model_key);
}

// The intended use: a sweep only at the paper's scale, leaving the default scale's cells (and results) as they were.
TEST(LrSweepSpec, AScaleAddsTheSweep) {
  const std::string scales = "\n[scales]\ndefault = \"small\"\n\n[scales.paper]\ngrid.lrs = [1e-3, 1e-4]\n";
  const Sweep small(sweep_spec("seeds = [0]\n", scales)), paper(sweep_spec("seeds = [0]\n", scales), "paper");
  const Sweep plain(sweep_spec("seeds = [0]\n"));
  ASSERT_EQ(small.cells.size(), 1u);
  EXPECT_EQ(small.cells[0].id, plain.cells[0].id);
  EXPECT_EQ(small.cells[0].result_key, plain.cells[0].result_key);
  EXPECT_EQ(paper.spec.name, "tiny-paper");
  // Either way the spec names its other scales (the index looks for their results).
  EXPECT_EQ(small.spec.other_scales, std::vector<std::string>{"paper"});
  EXPECT_EQ(paper.spec.other_scales, std::vector<std::string>{"paper"});
  EXPECT_TRUE(plain.spec.other_scales.empty());
  ASSERT_EQ(paper.cells.size(), 2u);
  EXPECT_EQ(paper.cells[1].settings.lr, 1e-4);
}

TEST(LrSweepReport, ValidLossOfTheSelectedCheckpoint) {
  const json curve = json::array({{{"step", 1}, {"train_loss", 2.0}}, {{"valid_loss", 0.5}}, {{"valid_loss", 0.3}},
                                  {{"valid_loss", 0.4}}});
  EXPECT_EQ(selected_valid_loss({{"curve", curve}, {"training", {{"settings", {{"select", "last"}}}}}}), 0.4);
  EXPECT_EQ(selected_valid_loss({{"curve", curve}, {"training", {{"settings", {{"select", "best_valid_loss"}}}}}}), 0.3);
  EXPECT_FALSE(selected_valid_loss({{"curve", json::array({{{"train_loss", 2.0}}})}}));
}

// The lr of the lowest mean validation loss over its seeds wins, whatever its test accuracy; ties go to the
// first listed; an lr without results competes only once it has some.
TEST(LrSweepReport, TablesShowTheLrOfLowestValidationLoss) {
  const Sweep f;
  EXPECT_EQ(f.shown().n, 0u);
  f.result(1e-3, 0, 0.9, {0.9, 0.3});
  f.result(1e-3, 1, 0.7, {0.5});  // mean of the last epochs: 0.4
  f.result(5e-4, 0, 0.5, {0.35});
  EXPECT_EQ(f.shown().n, 1u);
  EXPECT_NEAR(f.shown().mean, 50.0, 1e-9);
  f.result(1e-4, 0, 0.2, {0.35});  // ties with 5e-4, listed later
  EXPECT_NEAR(f.shown().mean, 50.0, 1e-9);
  f.result(1e-3, 0, 0.9, {0.1, 0.3}, "best_valid_loss");  // its checkpoint is the epoch of 0.1: mean 0.3
  EXPECT_EQ(f.shown().n, 2u);
  EXPECT_NEAR(f.shown().mean, 80.0, 1e-9);
  const Results res = load_results(f.cells, f.results());
  ASSERT_EQ(res.lr_choices.size(), 1u);
  EXPECT_EQ(res.lr_choices[0].chosen, 1e-3);
  EXPECT_EQ(res.by_cell.size(), 2u);
  EXPECT_EQ(res.passed_over.size(), 2u);
  EXPECT_EQ(res.with_results(), 4u);
}

// The report counts every result, names each lr's validation loss and the choice, and lists the passed-over
// cells in the provenance.
TEST(LrSweepReport, ReportAccountsForEveryLr) {
  const Sweep f;
  f.result(1e-3, 0, 0.9, {0.4});
  f.result(5e-4, 0, 0.5, {0.35});
  const auto md = read_file(render_report(f.spec, f.cells, {f.results(), f.dir.path() / "reports", false}));
  EXPECT_NE(md.find("2 of 6 cells have results, 4 not run"), std::string::npos) << md;
  EXPECT_NE(md.find("× lrs {0.001, 0.0005, 0.0001} × seeds {0, 1}"), std::string::npos) << md;
  EXPECT_NE(md.find("lr = [0.001,0.0005,0.0001]"), std::string::npos) << md;
  EXPECT_NE(md.find("| mqar | tf | 0.001: 0.4, 0.0005: 0.35, 0.0001: not run | 0.0005 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| mqar__tf__lr0.001__s0 (lr not shown: higher validation loss) | 0 | cpu |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| mqar__tf__lr0.0005__s0 | 0 | cpu |"), std::string::npos) << md;
  EXPECT_NE(md.find("| tf | 50.0 |"), std::string::npos) << md;
}
