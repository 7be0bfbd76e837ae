// What a report reads: the spec's current results (results/<spec>/<cell>.json whose result key matches
// the plan) and the numbers tables, claims and figures take from them. Nothing here trains or probes.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../core/plan.hpp"

namespace repro {

// One (train, model) point of an lr sweep (grid.lrs) and the lr the report shows for it.
struct LrChoice {
  std::string train, model;
  std::vector<std::pair<double, std::optional<double>>> losses;  // per lr of the sweep: mean validation loss, if run
  std::optional<double> chosen;                                   // none while no lr has a result
};

struct Results {
  std::filesystem::path dir;
  std::map<std::string, nlohmann::json> by_cell;  // cell id -> result, only current ones (of a sweep: the chosen lr's)
  size_t missing = 0;
  std::set<std::string> stale;  // cells whose result file exists but was computed for another configuration
  std::map<std::string, nlohmann::json> passed_over;  // current results of the lrs a sweep did not choose
  std::vector<LrChoice> lr_choices;                   // grid order
  size_t with_results() const { return by_cell.size() + passed_over.size(); }
};

// The current results of `cells` in `dir`; in an lr sweep, only the chosen lr's stay in by_cell (lr_sweep.hpp).
Results load_results(const std::vector<Cell>& cells, const std::filesystem::path& dir);

struct Stat {
  double mean = 0, sd = 0;  // sd: sample standard deviation over seeds (0 for one seed)
  double lo = 0, hi = 0;    // the lowest and highest seed: with 2-3 seeds a mean can hide a 4 % and a 100 %
  size_t n = 0;             // seeds with a result; 0 = not run
  size_t unscored = 0;      // seeds with a result that lacks this score (a training set not scored)
};
Stat stat(const std::vector<double>& v);

// Fills the dimensions a selection leaves open when the grid has a single value there.
std::map<std::string, std::string> complete_pins(const Spec& spec, std::map<std::string, std::string> pins);

// The cells (one per seed) of the grid point that `pins` names (train, model; test picks the test).
std::vector<const Cell*> cells_at(const std::vector<Cell>& cells, const std::map<std::string, std::string>& pins);

// A metric of one test of a result, as a fraction in [0, 1]; `subset` empty = the whole test split; test
// kTrainSetTest = the cell's own training set (the result's training.train_set).
std::optional<double> metric_of(const nlohmann::json& result, const std::string& test, const std::string& metric,
                                const std::string& subset = "");

// Our value at a grid point over the seeds that have a result: accuracies in percent, others as they are.
Stat ours_at(const Spec& spec, const std::vector<Cell>& cells, const Results& res,
             const std::map<std::string, std::string>& pins, const std::string& metric);

std::string metric_title(const std::string& metric);
bool metric_is_percent(const std::string& metric);  // an accuracy (fraction x 100), not a perplexity

}  // namespace repro
