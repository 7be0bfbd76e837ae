// Reports: the [report] schema (tables with paper numbers, claims, figures), verdicts computed from
// result files, the information-flow matrix, figure scripts. Results here are written by the test
// into a scratch directory; nothing is trained.
#include <fmt/format.h>

#include <cmath>
#include <fstream>

#include "core/fs.hpp"
#include "core/plan.hpp"
#include "core/spec.hpp"
#include "stages/figures.hpp"
#include "stages/index.hpp"
#include "stages/info_flow.hpp"
#include "stages/report.hpp"
#include "stages/report_claims.hpp"
#include "stages/report_figures.hpp"
#include "stages/report_tables.hpp"
#include "stages/results.hpp"
#include "support.hpp"

using namespace repro;
using json = nlohmann::json;

namespace {

const char* kSpec = R"SPEC([experiment]
name = "rep"

[datasets.std]
task = "mqar"
train_examples = 16
test_examples = 8
params = { vocab_size = 64, seq_len = 32, num_kv_pairs = [2, 4] }

[datasets.last]
task = "mqar"
train_examples = 16
test_examples = 8
params = { vocab_size = 64, seq_len = 32, num_kv_pairs = [2, 4], position = "last" }

[models.tf]
architecture = "transformer"
config = { d_model = 16, n_layers = 1, n_heads = 2 }

[grid]
train = ["std", "last"]
test = ["std", "last"]
models = ["tf"]
seeds = [0, 1]

[probe]
examples = [0]
matrices = ["mixing"]

[[report.tables]]
id = "t1"
artifact = "lps:table1"
metric = "query_accuracy"
rows = "test"
cols = "train"
paper = { source = "made up", values = [[99.0, 80.0], ["fail", "-"]] }

[[report.tables]]
id = "t3"
metric = "query_accuracy"
rows = "model"
cols = [{ id = "std-last", label = "Std-Last", train = "std", test = "last" },
        { id = "last-last", train = "last", test = "last" }]
paper = { source = "made up", values = [[10.0, 90.0]] }

[[report.figures]]
id = "sweep"
kind = "sweep"
x = "subset.n"
series = "train"
test = "std"

[[report.claims]]
id = "shortcut"
claim = "training on std fails on last"
artifact = "lps:table1"
holds_if = ["t1[last, std] < 50", "t1[std, std] - t1[last, std] >= 40"]

[[report.claims]]
claim = "agrees with the paper"
holds_if = ["agrees(t1)"]
)SPEC";

struct Fixture {
  test::TempDir dir;
  Spec spec;
  std::vector<Cell> cells;
  explicit Fixture(const std::string& text = kSpec) {
    spec = load_spec(dir.write("rep.toml", text).string(), test::plugins());
    cells = plan_cells(spec, test::plugins());
  }
  std::filesystem::path results() const { return dir.path() / "results"; }
  // A result for (train, seed) with query accuracy `acc[test]` and per-subset values.
  void result(const std::string& train, int64_t seed, std::map<std::string, double> acc) const {
    for (const auto& c : cells) {
      if (c.train_dataset != train || c.seed != seed) continue;
      json tests = json::object();
      for (const auto& [test, a] : acc)
        tests[test] = {{"query_accuracy", a},
                       {"example_accuracy", a},
                       {"subsets", {{"L32-n2", {{"query_accuracy", std::min(1.0, a + 0.1)}}},
                                    {"L32-n4", {{"query_accuracy", a - 0.1}}}}}};
      write_result(results(), c.id, {{"result_key", c.result_key}, {"model", c.model}, {"tests", tests}});
    }
  }
};

std::string load_error(const std::string& text) {
  test::TempDir dir;
  try {
    load_spec(dir.write("s.toml", text).string(), test::plugins());
  } catch (const UserError& e) {
    std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    return m.substr(m.find("s.toml"));
  }
  ADD_FAILURE() << "loaded without error";
  return "";
}

std::string with(std::string s, const std::string& from, const std::string& to) {
  const auto i = s.find(from);
  EXPECT_NE(i, std::string::npos) << from;
  return s.replace(i, from.size(), to);
}

}  // namespace

TEST(ReportSpec, LoadsTablesClaimsFigures) {
  Fixture f;
  const auto& r = f.spec.report;
  ASSERT_EQ(r.tables.size(), 2u);
  EXPECT_EQ(r.tables[0].rows.size(), 2u);
  EXPECT_EQ(r.tables[0].paper->values[1][0].kind, PaperValue::kFail);
  EXPECT_EQ(r.tables[0].paper->values[1][1].kind, PaperValue::kMissing);
  EXPECT_EQ(r.tables[1].col_dim, "cells");
  EXPECT_EQ(r.tables[1].cols[0].pins.at("test"), "last");
  ASSERT_EQ(r.claims.size(), 2u);
  EXPECT_EQ(r.claims[0].checks[1].lhs.size(), 2u);
  EXPECT_EQ(r.claims[0].checks[1].lhs[1].sign, -1);
  EXPECT_EQ(r.figures[0].x, "subset.n");
}

TEST(ReportSpec, BadInputIsOneLineWithLocation) {
  EXPECT_NE(load_error(with(kSpec, "\"t1[last, std] < 50\"", "\"t1[last, std] << 50\"")).find("expected a name"),
            std::string::npos);
  EXPECT_NE(load_error(with(kSpec, "\"t1[last, std] < 50\"", "\"t2[last, std] < 50\"")).find("no table or sweep figure named 't2'"),
            std::string::npos);
  EXPECT_NE(load_error(with(kSpec, "\"t1[last, std] < 50\"", "\"t1[lst, std] < 50\"")).find("did you mean 'last'"),
            std::string::npos);
  EXPECT_NE(load_error(with(kSpec, "[\"fail\", \"-\"]", "[\"failed\", \"-\"]")).find("report.tables[0].paper.values"),
            std::string::npos);
  EXPECT_NE(load_error(with(kSpec, ", test = \"last\" },", " },")).find("neither rows nor cols"), std::string::npos);
  // Text shown in a Markdown table cell may not hold a '|' (it would split the cell in the report and the index).
  const std::string pipe = load_error(with(kSpec, "training on std fails on last", "accuracy |std - last| is large"));
  EXPECT_NE(pipe.find("report.claims[0].claim: expected text without '|'"), std::string::npos) << pipe;
  EXPECT_NE(load_error(with(kSpec, "id = \"std-last\", label = \"Std-Last\"", "id = \"std-last\", label = \"Std|Last\""))
                .find("label: expected text without '|'"),
            std::string::npos);
  const std::string m = load_error(with(kSpec, "x = \"subset.n\"", "x = \"n\""));
  EXPECT_EQ(m.rfind("s.toml:", 0), 0u) << m;
  EXPECT_NE(m.find("report.figures[0].x"), std::string::npos) << m;
  EXPECT_NE(load_error(std::string(kSpec) + "[[report.figures]]\nkind = \"matrix\"\nexample = 3\ntrain = \"std\"\ntest = \"std\"\n")
                .find("not in [probe] examples"),
            std::string::npos);
  EXPECT_NE(load_error(std::string(kSpec) + "[[report.figures]]\nkind = \"curve\"\ny = \"valid_acc\"\n")
                .find("report.figures[1].y"),
            std::string::npos);
  // A tracked curve needs its dataset in [train] track; unknown datasets there are named.
  const std::string tracked = "[[report.figures]]\nkind = \"curve\"\ny = \"track.last.query_accuracy\"\n";
  EXPECT_NE(load_error(std::string(kSpec) + tracked).find("track.<dataset>.<metric>"), std::string::npos);
  EXPECT_NO_THROW(Fixture(with(std::string(kSpec) + tracked, "[grid]", "[train]\ntrack = [\"last\"]\n\n[grid]")));
  EXPECT_NE(load_error(with(kSpec, "[grid]", "[train]\ntrack = [\"lst\"]\n\n[grid]")).find("did you mean 'last'"),
            std::string::npos);
}

TEST(ReportTables, OursPaperDeltaAndNotRun) {
  Fixture f;
  f.result("std", 0, {{"std", 0.98}, {"last", 0.10}});
  f.result("std", 1, {{"std", 1.00}, {"last", 0.20}});
  const Results res = load_results(f.cells, f.results());
  const auto& t1 = f.spec.report.tables[0];
  const TableCell c = table_cell(f.spec, f.cells, res, t1, 0, 0);  // test std, train std
  EXPECT_EQ(c.ours.n, 2u);
  EXPECT_NEAR(c.ours.mean, 99.0, 1e-9);
  EXPECT_NEAR(c.ours.sd, std::sqrt(2.0), 1e-9);
  const std::string md = render_table(f.spec, f.cells, res, t1);
  EXPECT_NE(md.find("ours 99.0 ± 1.4 (2: 98.0–100.0) · paper 99.00 · Δ +0.0"), std::string::npos) << md;
  EXPECT_NE(md.find("ours not run · paper 80.00"), std::string::npos) << md;  // train last: no result
  EXPECT_NE(md.find("ours 15.0 ± 7.1 (2: 10.0–20.0) · paper fail (< 5)"), std::string::npos) << md;
  const TableVerdict v = table_verdict(f.spec, f.cells, res, t1);
  EXPECT_EQ(v.compared, 2u);  // 99 vs 99 agrees; 15 vs "fail" does not
  EXPECT_EQ(v.agree, 1u);
  EXPECT_EQ(v.not_run, 1u);
  EXPECT_EQ(v.word, "partly agrees");
}

// A scale that runs some of the paper's rows: the paper table may name models the spec defines outside the grid;
// the report lists them as not run at this scale (and keeps them out of the verdict); unknown names stay errors.
TEST(ReportTables, PaperRowsOutsideTheScalesGridAreListedNotRun) {
  const std::string two_models = with(with(with(kSpec, "[grid]", "[models.tf2]\narchitecture = \"transformer\"\n"
                                                                  "config = { d_model = 16, n_layers = 2, n_heads = 2 }\n\n[grid]"),
                                           "values = [[10.0, 90.0]] }", "rows = [\"tf\", \"tf2\"], values = [[10.0, 90.0], [20.0, 80.0]] }"),
                                      "[grid]", "[scales]\ndefault = \"small\"\n[scales.small]\ngrid.models = [\"tf\"]\n\n[grid]");
  Fixture f(two_models);
  ASSERT_EQ(f.spec.grid.models, std::vector<std::string>{"tf"});
  f.result("std", 0, {{"std", 0.98}, {"last", 0.10}});
  const Results res = load_results(f.cells, f.results());
  const auto& t3 = f.spec.report.tables[1];
  const std::string md = render_table(f.spec, f.cells, res, t3);
  EXPECT_NE(md.find("Not run at this scale (not in its grid, so not in the verdict): 1 more of the paper's rows, tf2."),
            std::string::npos) << md;
  EXPECT_EQ(table_verdict(f.spec, f.cells, res, t3).compared + table_verdict(f.spec, f.cells, res, t3).not_run, 2u);
  EXPECT_NE(load_error(with(two_models, "rows = [\"tf\", \"tf2\"]", "rows = [\"tf\", \"tf3\"]")).find("no table row named 'tf3'"),
            std::string::npos);
}

// A train_set column: the cells' own training sets, scored at the end of training ([train] score_train), compared
// with the paper's train accuracy; a cell trained without the score is "not scored", not "not run".
TEST(ReportTables, TrainSetColumnReadsTheTrainingScore) {
  const std::string own = "[[report.tables]]\nid = \"own\"\nmetric = \"query_accuracy\"\nrows = \"model\"\ncols = \"test\"\n"
                          "train = \"std\"\ntrain_set = \"training set\"\n"
                          "paper = { source = \"made up\", cols = [\"train_set\", \"std\"], values = [[100.0, 50.0]] }\n";
  const std::string scored = with(std::string(kSpec) + own, "[grid]", "[train]\nscore_train = true\n\n[grid]");
  Fixture f(scored);
  const auto& t = f.spec.report.tables[2];
  ASSERT_EQ(t.cols.size(), 3u);
  EXPECT_EQ(t.cols[0].id, "train_set");
  EXPECT_EQ(t.cols[0].label, "training set");
  f.result("std", 0, {{"std", 0.5}});
  f.result("std", 1, {{"std", 0.5}});
  {
    const Results res = load_results(f.cells, f.results());
    EXPECT_NE(render_table(f.spec, f.cells, res, t).find("| ours not scored · paper 100.00 |"), std::string::npos)
        << render_table(f.spec, f.cells, res, t);
    const TableVerdict v = table_verdict(f.spec, f.cells, res, t);
    EXPECT_EQ(v.compared, 1u);
    EXPECT_EQ(v.not_scored, 1u);
    EXPECT_EQ(v.not_run, 0u);
  }
  for (const auto& c : f.cells)  // seed 0 of train std has its training set scored
    if (c.train_dataset == "std" && c.seed == 0) {
      auto j = json::parse(read_file(f.results() / (c.id + ".json")));
      j["training"] = {{"train_set", {{"query_accuracy", 0.96}}}};
      write_result(f.results(), c.id, j);
    }
  const Results res = load_results(f.cells, f.results());
  const TableCell c = table_cell(f.spec, f.cells, res, t, 0, 0);
  EXPECT_EQ(c.ours.n, 1u);
  EXPECT_NEAR(c.ours.mean, 96.0, 1e-9);
  EXPECT_NEAR(table_cell(f.spec, f.cells, res, t, 0, 1).ours.mean, 50.0, 1e-9) << "the test columns keep their tests";
  EXPECT_NE(render_table(f.spec, f.cells, res, t).find("ours 96.0 (and 1 not scored) · paper 100.00 · Δ -4.0"),
            std::string::npos) << render_table(f.spec, f.cells, res, t);
  EXPECT_EQ(table_verdict(f.spec, f.cells, res, t).compared, 2u);
  // The column needs a test dimension and a model that scores its training set.
  EXPECT_NE(load_error(std::string(kSpec) + own).find("report.tables[2].train_set: no model has [train] score_train"),
            std::string::npos);
  EXPECT_NE(load_error(with(scored, "cols = \"test\"\ntrain = \"std\"", "cols = \"train\"\ntest = \"std\""))
                .find("train_set: expected a table whose rows or cols are \"test\""),
            std::string::npos);
}

TEST(ReportClaims, VerdictFollowsTheRule) {
  Fixture f;
  const auto& claims = f.spec.report.claims;
  EXPECT_EQ(judge_claim(f.spec, f.cells, load_results(f.cells, f.results()), claims[0]).word, "not run");
  f.result("std", 0, {{"std", 0.99}, {"last", 0.10}});
  EXPECT_EQ(judge_claim(f.spec, f.cells, load_results(f.cells, f.results()), claims[0]).word, "holds");
  f.result("std", 0, {{"std", 0.80}, {"last", 0.55}});  // 55 < 50 and 25 >= 40 both fail
  EXPECT_EQ(judge_claim(f.spec, f.cells, load_results(f.cells, f.results()), claims[0]).word, "fails");
  f.result("std", 0, {{"std", 0.70}, {"last", 0.40}});  // 40 < 50 passes, 30 >= 40 fails
  const auto v = judge_claim(f.spec, f.cells, load_results(f.cells, f.results()), claims[0]);
  EXPECT_EQ(v.word, "partial");
  EXPECT_NE(v.checks[1].detail.find("30.0 >= 40.0"), std::string::npos) << v.checks[1].detail;
  EXPECT_EQ(judge_claim(f.spec, f.cells, load_results(f.cells, f.results()), claims[1]).word, "fails");
}

// A comparison that the seed spread cannot decide (sides within 2 standard errors of their seed means) neither
// passes nor fails; a single seed has no spread, so its comparisons always decide.
TEST(ReportClaims, ComparisonsWithinSeedNoiseDecideNothing) {
  Fixture f;
  const auto& c = f.spec.report.claims[0];  // t1[last, std] < 50; t1[std, std] - t1[last, std] >= 40
  const auto judge = [&] { return judge_claim(f.spec, f.cells, load_results(f.cells, f.results()), c); };
  f.result("std", 0, {{"std", 0.99}, {"last", 0.45}});
  EXPECT_EQ(judge().word, "holds");  // one seed: 45 < 50 and 54 >= 40 decide
  f.result("std", 1, {{"std", 0.99}, {"last", 0.57}});  // last 51 ± 8.5: standard error 6
  auto v = judge();
  EXPECT_EQ(v.word, "within noise");  // 51 vs 50 and 48 vs 40 are both under 12 apart
  EXPECT_EQ(v.checks[0].state, CheckOutcome::kNoise);
  EXPECT_NE(v.checks[0].detail.find("51.0 < 50.0 (differ by 1, under 2 standard errors of the seed means, 12)"),
            std::string::npos) << v.checks[0].detail;
  f.result("std", 1, {{"std", 0.99}, {"last", 0.31}});  // last 38 ± 9.9, standard error 7: 38 < 50 still within 14
  v = judge();
  EXPECT_EQ(v.word, "partial");  // 61 >= 40 decides, 38 < 50 does not
  EXPECT_EQ(v.checks[0].state, CheckOutcome::kNoise);
  EXPECT_EQ(v.checks[1].state, CheckOutcome::kPass);
  f.result("std", 1, {{"std", 0.99}, {"last", 0.43}});  // last 44 ± 1.4: standard error 1
  EXPECT_EQ(judge().word, "holds");
  const std::string md = render_claims(f.spec, f.cells, load_results(f.cells, f.results()));
  EXPECT_NE(md.find("**≈**, within seed noise"), std::string::npos) << md;
}

// A claim may name a sweep figure's point, figure[series id, x], in % as the tables: Fig. 1 has no table.
TEST(ReportClaims, SweepFigurePointsAreTerms) {
  const std::string claim = "[[report.claims]]\nclaim = \"denser is worse\"\nholds_if = [\"sweep[std, 2] > sweep[std, 4] + 15\"]\n";
  Fixture f(std::string(kSpec) + claim);
  const auto& c = f.spec.report.claims.back();
  const auto word = [&] { return judge_claim(f.spec, f.cells, load_results(f.cells, f.results()), c).word; };
  EXPECT_EQ(word(), "not run");
  f.result("std", 0, {{"std", 0.8}});  // subsets n2 0.9, n4 0.7
  f.result("std", 1, {{"std", 0.6}});  // n2 0.7, n4 0.5: means 80 and 60
  const auto v = judge_claim(f.spec, f.cells, load_results(f.cells, f.results()), c);
  EXPECT_EQ(v.word, "holds");
  EXPECT_NE(v.checks[0].detail.find("80.0 > 75.0"), std::string::npos) << v.checks[0].detail;
  f.result("std", 0, {{"std", 0.95}});  // n2 min(1, 1.05) = 1.0, n4 0.85: means 85 and 67.5; 85 > 82.5
  EXPECT_EQ(word(), "holds");
  f.result("std", 1, {{"std", 0.95}});  // both seeds 1.0 / 0.85: 100 > 100 fails
  EXPECT_EQ(word(), "fails");
}

TEST(ReportClaims, FigureTermsAreChecked) {
  const auto err = [](const std::string& check) {
    return load_error(std::string(kSpec) + "[[report.claims]]\nclaim = \"x\"\nholds_if = [\"" + check + "\"]\n");
  };
  EXPECT_NE(err("sweep[nope, 2] > 1").find("no series of figure 'sweep' (train) named 'nope'"), std::string::npos)
      << err("sweep[nope, 2] > 1");
  EXPECT_NE(err("sweep[std, two] > 1").find("figure 'sweep': x must be a number, got 'two'"), std::string::npos)
      << err("sweep[std, two] > 1");
  EXPECT_NE(err("paper.sweep[std, 2] > 1").find("figure 'sweep' has no paper numbers"), std::string::npos)
      << err("paper.sweep[std, 2] > 1");
  EXPECT_NE(err("swep[std, 2] > 1").find("no table or sweep figure named 'swep' (did you mean 'sweep'?)"),
            std::string::npos)
      << err("swep[std, 2] > 1");
}

TEST(ReportFigures, SweepAveragesSeedsPerSubsetField) {
  Fixture f;
  f.result("std", 0, {{"std", 0.8}});
  f.result("std", 1, {{"std", 0.6}});
  const auto pts = sweep_points(f.spec, f.cells, load_results(f.cells, f.results()), f.spec.report.figures[0]);
  ASSERT_EQ(pts.size(), 2u);  // one series (train std) x two pair counts; train last has no result
  EXPECT_EQ(pts[0].x, 2);
  EXPECT_NEAR(pts[0].value, 0.8, 1e-9);  // (0.9 + 0.7) / 2
  EXPECT_EQ(pts[1].x, 4);
  EXPECT_NEAR(pts[1].value, 0.6, 1e-9);
}

TEST(ReportFigures, HeatmapScriptMarksPositionsAndDraws) {
  Heatmap h;
  h.values = {{1, NAN}, {0.5, 0.5}};
  h.red_cols = {-0.5, 1.5};
  h.yellow_cols = {0};
  h.matrix_orientation = true;
  const auto fig = heatmap_figure("unit-heatmap", h);
  EXPECT_NE(fig.script.find("lc rgb 'red'"), std::string::npos);
  EXPECT_NE(fig.script.find("lc rgb '#ffd700'"), std::string::npos);
  EXPECT_NE(fig.script.find("set yrange [1.5:-0.5]"), std::string::npos);  // row 0 on top
  EXPECT_EQ(fig.hash(), heatmap_figure("unit-heatmap", h).hash());
  h.values[1][1] = 0.6;
  EXPECT_NE(fig.hash(), heatmap_figure("unit-heatmap", h).hash());
  if (!gnuplot_available()) GTEST_SKIP() << "gnuplot not installed";
  test::TempDir dir;
  ASSERT_TRUE(draw(fig, dir.path()));
  EXPECT_GT(std::filesystem::file_size(dir.path() / "unit-heatmap.png"), 1000u);
  EXPECT_GT(std::filesystem::file_size(dir.path() / "unit-heatmap.pdf"), 1000u);
}

// S[i, j] = C_i (prod_{k=j+1..i} exp(delta_k A)) B_j, by the definition, against the vectorised version.
TEST(InfoFlow, MatchesTheDefinition) {
  torch::manual_seed(0);
  const int64_t B = 2, L = 5, D = 3, N = 4;
  std::map<std::string, torch::Tensor> layer = {{"ssm.delta", torch::rand({B, L, D}) * 0.5},
                                                {"ssm.A", -torch::rand({D, N}) - 0.1},
                                                {"ssm.B", torch::randn({B, L, N})},
                                                {"ssm.C", torch::randn({B, L, N})}};
  const auto S = info_flow_matrix(layer);
  auto dl = layer["ssm.delta"].to(torch::kDouble), A = layer["ssm.A"].to(torch::kDouble);
  auto Bm = layer["ssm.B"].to(torch::kDouble), Cm = layer["ssm.C"].to(torch::kDouble);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < L; ++i)
      for (int64_t j = 0; j < L; ++j) {
        double mean = 0;
        for (int64_t d = 0; d < D && j <= i; ++d) {
          double s = 0;
          for (int64_t n = 0; n < N; ++n) {
            double decay = 0;
            for (int64_t k = j + 1; k <= i; ++k) decay += dl[b][k][d].item<double>() * A[d][n].item<double>();
            s += Cm[b][i][n].item<double>() * std::exp(decay) * Bm[b][j][n].item<double>();
          }
          mean += std::fabs(s) / D;
        }
        EXPECT_NEAR(S[b][i][j].item<double>(), mean, 1e-9) << b << " " << i << " " << j;
      }
  layer.erase("ssm.C");
  EXPECT_THROW(info_flow_matrix(layer), StageError);
}

TEST(ReportIndex, UnknownArtifactIsAnError) {
  Fixture f(with(kSpec, "artifact = \"lps:table1\"\nmetric", "artifact = \"lps:tabel1\"\nmetric"));
  const auto list = f.dir.write("artifacts.toml", "[[artifact]]\nid = \"lps:table1\"\npaper = \"P\"\ntitle = \"T1\"\n");
  EXPECT_THROW(render_index(list, {{f.spec, f.cells, f.results()}}, f.dir.path()), UserError);
  Fixture g;
  g.result("std", 0, {{"std", 0.99}, {"last", 0.10}});
  const auto md = read_file(render_index(list, {{g.spec, g.cells, g.results()}}, g.dir.path()));
  EXPECT_NE(md.find("| P | T1 | [rep](rep.md) | table"), std::string::npos) << md;
  EXPECT_NE(md.find(fmt::format("claim \"training on std fails on last\" | holds (1 of {} cells run) |", g.cells.size())),
            std::string::npos)
      << "a claim judged on part of the grid says how much of it ran: " << md;
  for (const auto& train : {"std", "last"})
    for (int64_t seed : {0, 1}) g.result(train, seed, {{"std", 0.99}, {"last", 0.10}});
  const auto full = read_file(render_index(list, {{g.spec, g.cells, g.results()}}, g.dir.path()));
  EXPECT_NE(full.find("claim \"training on std fails on last\" | holds |"), std::string::npos) << full;
}

// A report of a spec with no results says "not run" everywhere and still renders.
TEST(Report, NotRunCellsRender) {
  Fixture f;
  const auto md = read_file(render_report(f.spec, f.cells, {f.results(), f.dir.path() / "reports", false}));
  EXPECT_NE(md.find("0 of 4 cells have results, 4 not run"), std::string::npos);
  EXPECT_NE(md.find("**Verdict: not run**"), std::string::npos);
  EXPECT_NE(md.find("| training on std fails on last | **not run** |"), std::string::npos) << md;
  EXPECT_NE(md.find("Not run: no result has values along these axes yet."), std::string::npos);
}

// A report rewritten without its PDF (--no-pdf) drops the old PDF: rendered again with PDFs, an unchanged text must
// not leave a PDF of the previous text standing as if current.
TEST(Report, NewTextWithoutPdfDropsTheStalePdf) {
  Fixture f;
  const auto reports = f.dir.path() / "reports";
  const auto md = render_report(f.spec, f.cells, {f.results(), reports, false});
  const auto pdf = reports / "rep.pdf";
  write_file_atomic(pdf, "a PDF of this text");
  render_report(f.spec, f.cells, {f.results(), reports, false});
  EXPECT_TRUE(std::filesystem::exists(pdf)) << "an unchanged report keeps its PDF";
  write_file_atomic(md, "the report as an older run left it");  // the new render's text differs from it
  render_report(f.spec, f.cells, {f.results(), reports, false});
  EXPECT_FALSE(std::filesystem::exists(pdf)) << "the PDF of the old text is still there";
  EXPECT_TRUE(std::filesystem::exists(md));
}

// The probe matrices travel beside the result; a file that is not the one recorded is refused.
TEST(Results, ProbeFileIsCheckedBySha1) {
  test::TempDir dir;
  TensorMap m = {{"std.mixing.layer0", torch::rand({1, 4, 4})}, {"std.example", torch::tensor({0}, torch::kInt64)}};
  write_result(dir.path(), "cell", {{"result_key", "k"}}, m);
  const auto r = read_result(dir.path(), "cell", "k");
  ASSERT_TRUE(r && r->contains("probe_file"));
  const auto back = read_probe_tensors(dir.path(), *r);
  ASSERT_TRUE(back);
  EXPECT_TRUE(torch::equal(back->at("std.mixing.layer0"), m.at("std.mixing.layer0")));
  save_safetensors(dir.path() / "cell.probe.safetensors", {{"std.mixing.layer0", torch::zeros({1, 4, 4})}});
  EXPECT_FALSE(read_probe_tensors(dir.path(), *r));
}

// x = "alternative": one point per accepted alternative (K1V1*'s regions, Fig. 7a), averaged over seeds.
TEST(ReportFigures, AlternativeShares) {
  Fixture f(with(kSpec, "x = \"subset.n\"", "x = \"alternative\""));
  for (int64_t seed : {0, 1})
    for (const auto& c : f.cells)
      if (c.train_dataset == "std" && c.seed == seed)
      {
        json test = {{"query_accuracy", 0.5}, {"alternatives", {0.5 + 0.1 * static_cast<double>(seed), 0.2, 0.0}}};
        write_result(f.results(), c.id, {{"result_key", c.result_key}, {"tests", {{"std", test}}}});
      }
  const auto pts = sweep_points(f.spec, f.cells, load_results(f.cells, f.results()), f.spec.report.figures[0]);
  ASSERT_EQ(pts.size(), 3u);
  EXPECT_NEAR(pts[0].value, 0.55, 1e-9);
  EXPECT_EQ(pts[2].x, 2);
}

// `models` globs keep other models that share a figure's axes (e.g. ablations) out of its points.
TEST(ReportFigures, ModelGlobsSelectTheCells) {
  std::string s = with(kSpec, "models = [\"tf\"]", "models = [\"tf\", \"tf_abl\"]");
  s = with(s, "rows = \"test\"\ncols = \"train\"\n", "rows = \"test\"\ncols = \"train\"\nmodel = \"tf\"\n");
  s = with(s, "values = [[10.0, 90.0]]", "values = [[10.0, 90.0], [10.0, 90.0]]");
  s = with(s, "[grid]", "[models.tf_abl]\narchitecture = \"transformer\"\nconfig = { d_model = 16, n_layers = 1, n_heads = 1 }\n\n[grid]");
  const auto points_of = [](const Fixture& f) {
    for (const auto& c : f.cells)
      if (c.train_dataset == "std" && c.seed == 0) {
        const json test = {{"query_accuracy", c.model == "tf" ? 0.8 : 0.2}};
        write_result(f.results(), c.id, {{"result_key", c.result_key}, {"tests", {{"std", test}}}});
      }
    return sweep_points(f.spec, f.cells, load_results(f.cells, f.results()), f.spec.report.figures[0]);
  };
  const auto all = points_of(Fixture(with(s, "x = \"subset.n\"", "x = \"model.d_model\"")));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_NEAR(all[0].value, 0.5, 1e-9);  // both models share d_model 16: averaged
  const auto tf = points_of(Fixture(with(s, "x = \"subset.n\"", "x = \"model.d_model\"\nmodels = [\"t?\"]")));
  ASSERT_EQ(tf.size(), 1u);
  EXPECT_NEAR(tf[0].value, 0.8, 1e-9);
  EXPECT_NE(load_error(with(s, "x = \"subset.n\"", "x = \"subset.n\"\nmodels = [\"zz*\"]")).find("'zz*' matches no model"),
            std::string::npos);
}

// x = "subset": a subset named by a number (the composite task's anchor pairs) is its own x; other names are
// skipped. Agreement metrics of the interventions probe plot like accuracies.
TEST(ReportFigures, NumericSubsetNamesAndAgreementMetrics) {
  Fixture f(with(kSpec, "x = \"subset.n\"", "x = \"subset\"\nmetric = \"blocking_agreement\""));
  for (const auto& c : f.cells)
    if (c.train_dataset == "std" && c.seed == 0) {
      json test = {{"query_accuracy", 0.5},
                   {"subsets", {{"12", {{"blocking_agreement", 0.75}}}, {"43", {{"blocking_agreement", 1.0}}},
                                {"L32-n2", {{"blocking_agreement", 0.0}}}}}};
      write_result(f.results(), c.id, {{"result_key", c.result_key}, {"tests", {{"std", test}}}});
    }
  const auto pts = sweep_points(f.spec, f.cells, load_results(f.cells, f.results()), f.spec.report.figures[0]);
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_EQ(pts[0].x, 12);
  EXPECT_EQ(pts[0].x_name, "12");
  EXPECT_NEAR(pts[0].value, 0.75, 1e-9);
  EXPECT_EQ(pts[1].x, 43);
  EXPECT_NEAR(pts[1].value, 1.0, 1e-9);
  // Drawn as categories: at ranks 0 and 1 under their own names, not at 12 and 43.
  const auto figs = report_figures(f.spec, f.cells, load_results(f.cells, f.results()));
  ASSERT_TRUE(figs.at(0).figure.has_value());
  const std::string& script = figs[0].figure->script;
  EXPECT_NE(script.find("set xtics (\"12\" 0, \"43\" 1)"), std::string::npos) << script;
  EXPECT_NE(script.find("\n0 75\n1 100\n"), std::string::npos) << script;
}

TEST(ReportFigures, LongTitlesWrapInsideTheCanvas) {
  const std::string title(40, 'a');
  LinePlot p;
  p.title = title + " " + title + " " + title;  // 122 characters
  p.series.push_back({"s", {{0, 1}}});
  const std::string script = line_figure("t", p).script;
  EXPECT_NE(script.find("set title \"" + title + "\\n" + title + "\\n" + title + "\""), std::string::npos) << script;
  p.title = "short title";
  EXPECT_NE(line_figure("t", p).script.find("set title \"short title\"\n"), std::string::npos);
}
