// Model::intervene (the SDK's SsmIntervention) on the mamba plugin, and the Fig. 6 probe built on it
// (stages/interventions.hpp): blocking removes exactly what the sources wrote into the state, substitution
// swaps in the twin's SSM inputs, and bad requests are refused.
#include "stages/interventions.hpp"

#include "core/error.hpp"
#include "core/plan.hpp"
#include "core/spec.hpp"
#include "support.hpp"

using namespace repro;

namespace {
using Over = std::map<std::string, sdk::Value>;
constexpr int64_t kVocab = 30, kLen = 10;

std::shared_ptr<sdk::Model> mamba(Over over) {
  over.emplace("d_model", int64_t{16});
  over.emplace("d_state", int64_t{4});
  over.emplace("n_layers", int64_t{2});
  torch::manual_seed(0);
  auto m = test::plugins().build_model("mamba", test::with_defaults(test::plugins().architecture("mamba")->params(), over),
                                       {kVocab, kLen});
  m->eval();
  return m;
}
torch::Tensor tokens(uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(5, kVocab, {3, kLen}, torch::kInt64);
}
// `t` with position 0 changed: a twin that differs in one early token.
torch::Tensor first_changed(torch::Tensor t) {
  t = t.clone();
  t.select(1, 0).fill_(1);
  return t;
}
torch::Tensor span(int64_t from, int64_t to) {  // [3, kLen] bool, true on positions from..to-1
  auto m = torch::zeros({3, kLen}, torch::kBool);
  m.slice(1, from, to).fill_(true);
  return m;
}
sdk::SsmIntervention block(int64_t source) {
  sdk::SsmIntervention iv;
  iv.block_from = span(source, source + 1);
  iv.block_to = span(source + 1, kLen);
  return iv;
}
double max_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }
}  // namespace

TEST(Interventions, NoneIsTheForwardPass) {
  for (const std::string scan : {"sequential", "parallel"}) {
    auto m = mamba({{"scan", scan}});
    const auto t = tokens(1);
    torch::NoGradGuard ng;
    EXPECT_LT(max_diff(m->intervene(t, {}), m->forward(t)), 1e-6) << scan;
    sdk::SsmIntervention self;  // substituting a batch's own SSM inputs changes nothing
    self.substitute = span(0, kLen);
    self.donor = m->internals(t);
    EXPECT_LT(max_diff(m->intervene(t, self), m->forward(t)), 1e-6) << scan;
  }
}

// Without a conv (conv = none) position 0 reaches later positions only through the state it writes: cutting
// S[i, 0] for every later i in every layer makes their logits independent of token 0; without the cut they are not.
TEST(Interventions, BlockingCutsWhatTheSourceWroteIntoTheState) {
  for (const std::string scan : {"sequential", "parallel"}) {
    auto m = mamba({{"conv", std::string("none")}, {"scan", scan}});
    const auto a = tokens(2), b = first_changed(a);
    const auto later = [](const torch::Tensor& x) { return x.slice(1, 1); };
    EXPECT_LT(max_diff(later(m->intervene(a, block(0))), later(m->intervene(b, block(0)))), 1e-5) << scan;
    torch::NoGradGuard ng;
    EXPECT_GT(max_diff(later(m->forward(a)), later(m->forward(b))), 1e-3) << scan;
    EXPECT_LT(max_diff(m->intervene(a, block(0)).slice(1, 0, 1), m->forward(a).slice(1, 0, 1)), 1e-6);  // no target
  }
}

// With the standard conv, token 0 also reaches positions 1-3 through the conv, and their state writes carry it
// on: blocking position 0 alone no longer isolates the later logits (the paper's point about Mamba's conv).
TEST(Interventions, TheConvCarriesATokenPastABlockedEdge) {
  auto m = mamba({});
  const auto a = tokens(3), b = first_changed(a);
  EXPECT_GT(max_diff(m->intervene(a, block(0)).slice(1, 4), m->intervene(b, block(0)).slice(1, 4)), 1e-3);
}

// One layer, standard conv: the original and its twin differ at position 0 only. Blocking position 0 and taking the
// twin's SSM inputs at positions 1.. makes the original's later logits exactly the (blocked) twin's, although the
// conv had mixed token 0 into positions 1-3; the substitution alone does not (position 0's state write differs).
TEST(Interventions, SubstitutionTakesTheTwinsSsmInputs) {
  auto m = mamba({{"n_layers", int64_t{1}}});
  const auto a = tokens(4), twin = first_changed(a);
  sdk::SsmIntervention both = block(0);
  both.substitute = span(1, kLen);
  both.donor = m->internals(twin);
  const auto later = [](const torch::Tensor& x) { return x.slice(1, 1); };
  const auto twin_blocked = later(m->intervene(twin, block(0)));
  EXPECT_LT(max_diff(later(m->intervene(a, both)), twin_blocked), 1e-5);
  EXPECT_GT(max_diff(later(m->intervene(a, block(0))), twin_blocked), 1e-3);  // without the swap: not the twin's
  sdk::SsmIntervention swap_only;
  swap_only.substitute = both.substitute;
  swap_only.donor = both.donor;
  torch::NoGradGuard ng;
  EXPECT_GT(max_diff(later(m->intervene(a, swap_only)), later(m->forward(twin))), 1e-4);
}

TEST(Interventions, BadRequestsAreRefusedAndArchitecturesWithoutAnSsmSayNone) {
  auto m = mamba({});
  const auto t = tokens(5);
  sdk::SsmIntervention overlap;
  overlap.block_from = span(0, 2);
  overlap.block_to = span(1, kLen);
  EXPECT_THROW(m->intervene(t, overlap), std::invalid_argument);
  sdk::SsmIntervention half;
  half.block_from = span(0, 1);
  EXPECT_THROW(m->intervene(t, half), std::invalid_argument);
  sdk::SsmIntervention short_donor;
  short_donor.substitute = span(1, kLen);
  short_donor.donor = {m->internals(t)[0]};  // one layer of two
  EXPECT_THROW(m->intervene(t, short_donor), std::invalid_argument);

  torch::manual_seed(0);
  auto tf = test::plugins().build_model(
      "transformer", test::with_defaults(test::plugins().architecture("transformer")->params(), {{"d_model", int64_t{16}}}),
      {kVocab, kLen});
  EXPECT_FALSE(tf->intervene(t, block(0)).defined());
}

namespace {
// A composite-function-like test set: key at position p, a pair at p+1, p+2 (role query), the answer scored at the
// last position; subsets by pair.
sdk::Dataset pairs_dataset() {
  sdk::Dataset d;
  const int64_t N = 8;
  d.inputs = tokens(6).repeat({3, 1}).slice(0, 0, N).contiguous();
  d.targets = torch::full({N, kLen}, sdk::kIgnore, torch::kInt64);
  d.answer_group = torch::full({N, kLen}, -1, torch::kInt64);
  d.answer_group.select(1, kLen - 1).fill_(0);
  d.subset = torch::tensor({0, 0, 0, 1, 1, 1, 1, 0}, torch::kInt64);
  d.subset_names = {"12", "43"};
  auto role = torch::zeros({N, kLen}, torch::kUInt8);
  for (int64_t i = 0; i < N; ++i) {
    const int64_t p = i % 4;
    role[i][p] = sdk::kKey;
    role[i][p + 1] = role[i][p + 2] = sdk::kQuery;
    d.inputs[i][p + 1] = d.subset[i].item<int64_t>() == 0 ? 1 : 4;
    d.inputs[i][p + 2] = d.subset[i].item<int64_t>() == 0 ? 2 : 3;
  }
  d.meta["role"] = role;
  return d;
}
InterventionSpec pairs_spec() {
  InterventionSpec s;
  s.test = "pairs";
  s.block_roles = {sdk::kKey, sdk::kQuery};
  s.twin_role = sdk::kQuery;
  s.twin_tokens = {4, 3};
  s.examples_per_subset = 3;
  return s;
}
}  // namespace

TEST(InterventionProbe, AgreementsPerSubsetAndTheirWorst) {
  auto m = mamba({});
  const auto d = pairs_dataset();
  const auto r = intervention_metrics(*m, pairs_spec(), d, torch::kCPU, 2);
  ASSERT_TRUE(r.contains("subsets")) << r.dump();
  EXPECT_EQ(r["intervention_examples"], 6);  // 3 per subset of the 4 + 4
  EXPECT_EQ(r["subsets"]["43"]["intervention_examples"], 3);
  // The twin of a "43" example is itself: substitution can only agree.
  EXPECT_EQ(r["subsets"]["43"]["substitution_agreement"], 1.0);
  for (const auto* k : {"blocking_agreement", "substitution_agreement"}) {
    const double v = r[k], lo = r[std::string(k) + "_min"];
    EXPECT_GE(v, 0.0);
    EXPECT_LE(v, 1.0);
    EXPECT_LE(lo, v);
    EXPECT_DOUBLE_EQ(lo, std::min(r["subsets"]["12"][k].get<double>(), r["subsets"]["43"][k].get<double>()));
  }
}

TEST(InterventionProbe, ControlSourcesAreTheNearestOtherPositionsBeforeThePair) {
  const auto row = [](std::vector<int> v) { return torch::tensor(std::vector<int64_t>(v.begin(), v.end())).to(torch::kBool); };
  const auto source = torch::stack({row({0, 0, 1, 0, 1, 1, 0, 0}),    // key 2, pair 4-5: 3, 1, 0
                                    row({1, 1, 1, 0, 0, 0, 0, 0}),    // nothing before it: none
                                    row({0, 0, 0, 0, 0, 1, 1, 1})});  // 5 candidates: the 3 nearest, 4, 3, 2
  const auto c = control_sources(source);
  EXPECT_TRUE(torch::equal(c, torch::stack({row({1, 1, 0, 1, 0, 0, 0, 0}), row({0, 0, 0, 0, 0, 0, 0, 0}),
                                            row({0, 0, 1, 1, 1, 0, 0, 0})})))
      << c;
}

TEST(InterventionProbe, ControlBlockingIsMeasuredOnlyWhenAsked) {
  auto m = mamba({});
  const auto d = pairs_dataset();
  auto s = pairs_spec();
  EXPECT_FALSE(intervention_metrics(*m, s, d, torch::kCPU, 2).contains("control_examples"));
  const std::string plain_key = s.key();
  s.control = true;
  EXPECT_NE(s.key(), plain_key);  // a spec that asks for it re-probes; one that does not keeps its results
  const auto r = intervention_metrics(*m, s, d, torch::kCPU, 2);
  // Rows whose key sits at position 0 have nothing before the pair: 2 of the 6 probed (positions 0, 1, 2, 3, 0, 1).
  EXPECT_EQ(r["control_examples"], 4) << r.dump();
  const double v = r["control_blocking_agreement"];
  EXPECT_GE(v, 0.0);
  EXPECT_LE(v, 1.0);
  EXPECT_TRUE(r["subsets"]["12"].contains("control_examples"));
}

TEST(InterventionProbe, ExamplesWithoutTheNamedRolesAreAClearError) {
  auto m = mamba({});
  auto d = pairs_dataset();
  auto s = pairs_spec();
  s.twin_tokens = {4, 3, 2};
  try {
    intervention_metrics(*m, s, d, torch::kCPU, 4);
    FAIL();
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "probe.interventions: example 0 of test set 'pairs' has 2 positions of the twin role, "
                           "twin_tokens has 3");
  }
  d.meta.erase("role");
  EXPECT_THROW(intervention_metrics(*m, pairs_spec(), d, torch::kCPU, 4), UserError);
}

// paper/achilles-interventions.toml repeats the composite spec's data, models and training so that its cells train
// the very same models (same keys: one store trains them once); only the probe, and so the result keys, differ.
TEST(InterventionSpec, SharesTheCompositeSpecsModels) {
  const std::string dir = REPRO_PAPER_DIR;
  const auto iv = load_spec(dir + "/achilles-interventions.toml", test::plugins());
  const auto comp = load_spec(dir + "/achilles-composite.toml", test::plugins());
  std::map<std::string, const Cell*> by_id;
  const auto comp_cells = plan_cells(comp, test::plugins());
  for (const auto& c : comp_cells) by_id[c.id] = &c;
  const auto cells = plan_cells(iv, test::plugins());
  ASSERT_EQ(cells.size(), 6u);
  for (const auto& c : cells) {
    ASSERT_TRUE(by_id.count(c.id)) << c.id;
    EXPECT_EQ(c.model_key, by_id[c.id]->model_key) << c.id;
    EXPECT_NE(c.result_key, by_id[c.id]->result_key) << c.id;
  }
  ASSERT_TRUE(iv.probe.interventions);
  EXPECT_EQ(iv.probe.interventions->twin_tokens, (std::vector<int64_t>{4, 3}));
  EXPECT_FALSE(comp.probe.interventions);
}
