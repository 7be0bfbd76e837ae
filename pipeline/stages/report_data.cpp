#include "report_data.hpp"

#include <algorithm>
#include <cmath>

#include "../core/spec.hpp"
#include "lr_sweep.hpp"
#include "results.hpp"

namespace repro {
namespace fs = std::filesystem;
using json = nlohmann::json;

Results load_results(const std::vector<Cell>& cells, const fs::path& dir) {
  Results r;
  r.dir = dir;
  for (const auto& c : cells) {
    if (auto j = read_result(dir, c.id, c.result_key)) r.by_cell[c.id] = *j;
    else if (++r.missing; fs::exists(dir / (c.id + ".json"))) r.stale.insert(c.id);
  }
  choose_learning_rates(cells, r);
  return r;
}

Stat stat(const std::vector<double>& v) {
  Stat s;
  s.n = v.size();
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  s.lo = *lo, s.hi = *hi;
  if (v.size() > 1) {
    for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(s.sd / static_cast<double>(v.size() - 1));
  }
  return s;
}

std::map<std::string, std::string> complete_pins(const Spec& spec, std::map<std::string, std::string> pins) {
  for (const char* dim : {"train", "test", "model"})
    if (!pins.count(dim) && grid_ids(spec, dim).size() == 1) pins[dim] = grid_ids(spec, dim).front();
  return pins;
}

std::vector<const Cell*> cells_at(const std::vector<Cell>& cells, const std::map<std::string, std::string>& pins) {
  std::vector<const Cell*> out;
  for (const auto& c : cells)
    if ((!pins.count("train") || c.train_dataset == pins.at("train")) && (!pins.count("model") || c.model == pins.at("model")))
      out.push_back(&c);
  return out;
}

std::optional<double> metric_of(const json& result, const std::string& test, const std::string& metric,
                                const std::string& subset) {
  const bool own = test == kTrainSetTest;
  const auto holder = result.find(own ? "training" : "tests");
  const std::string key = own ? "train_set" : test;
  if (holder == result.end() || !holder->contains(key)) return std::nullopt;
  const json& all = (*holder)[key];
  if (!subset.empty() && (!all.contains("subsets") || !all["subsets"].contains(subset))) return std::nullopt;
  const json& t = subset.empty() ? all : all["subsets"][subset];
  if (!t.is_object() || !t.contains(metric)) return std::nullopt;
  return t[metric].get<double>();
}

Stat ours_at(const Spec& spec, const std::vector<Cell>& cells, const Results& res,
             const std::map<std::string, std::string>& pins0, const std::string& metric) {
  const auto pins = complete_pins(spec, pins0);
  std::vector<double> vals;
  size_t unscored = 0;
  for (const Cell* c : cells_at(cells, pins)) {
    auto it = res.by_cell.find(c->id);
    if (it == res.by_cell.end()) continue;
    if (auto v = metric_of(it->second, pins.at("test"), metric)) vals.push_back((metric_is_percent(metric) ? 100 : 1) * *v);
    else if (pins.at("test") == kTrainSetTest) ++unscored;
  }
  Stat s = stat(vals);
  s.unscored = unscored;
  return s;
}

bool metric_is_percent(const std::string& m) { return m != "perplexity" && m != "word_perplexity" && m != "bits_per_byte"; }

std::string metric_title(const std::string& m) {
  return m == "example_accuracy"   ? "example accuracy (all answer tokens of an example right)"
         : m == "query_accuracy"   ? "query accuracy (all tokens of a query right; mean over subsets)"
         : m == "token_accuracy"   ? "token accuracy (answer tokens right)"
         : m == "mc_accuracy"      ? "multiple-choice accuracy (the choice of highest summed log-likelihood; lm-eval's acc)"
         : m == "mc_accuracy_norm" ? "length-normalised multiple-choice accuracy (log-likelihood per character of the "
                                     "choice; lm-eval's acc_norm)"
         : m == "perplexity"       ? "perplexity (exp of the mean cross-entropy per token; lower is better)"
         : m == "word_perplexity"  ? "word perplexity (exp of the summed cross-entropy per whitespace word; lm-eval's "
                                     "word_perplexity; lower is better)"
         : m == "bits_per_byte"    ? "bits per byte (summed cross-entropy / ln 2 per UTF-8 byte; lower is better)"
         : m == "blocking_agreement"
             ? "blocking agreement (share of examples whose answer is unchanged when the SSM edges from the spec's "
               "block_roles positions, e.g. a key and its anchor pair, to every later token are cut in every layer)"
         : m == "substitution_agreement"
             ? "substitution agreement (share of examples whose answer becomes their twin's when the tokens after the "
               "twin_role positions take the twin's SSM inputs; the twin has those positions' tokens replaced by the "
               "spec's twin_tokens)"
         : m == "blocking_agreement_min" ? "blocking agreement of the worst subset (e.g. anchor pair)"
         : m == "control_blocking_agreement"
             ? "control blocking agreement (the same blocking from as many other positions, the nearest before the "
               "last block_roles position: how much cutting any such edges changes the answers)"
                                         : "substitution agreement of the worst subset (e.g. anchor pair)";
}

}  // namespace repro
