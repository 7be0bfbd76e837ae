// What a report reads: the spec's current results (results/<spec>/<cell>.json whose result key matches
// the plan) and the numbers tables, claims and figures take from them. Nothing here trains or probes.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "../core/plan.hpp"

namespace repro {

struct Results {
  std::filesystem::path dir;
  std::map<std::string, nlohmann::json> by_cell;  // cell id -> result, only current ones
  size_t missing = 0;
  std::set<std::string> stale;  // cells whose result file exists but was computed for another configuration
};

Results load_results(const std::vector<Cell>& cells, const std::filesystem::path& dir);

struct Stat {
  double mean = 0, sd = 0;  // sd: sample standard deviation over seeds (0 for one seed)
  size_t n = 0;             // seeds with a result; 0 = not run
};
Stat stat(const std::vector<double>& v);

// Fills the dimensions a selection leaves open when the grid has a single value there.
std::map<std::string, std::string> complete_pins(const Spec& spec, std::map<std::string, std::string> pins);

// The cells (one per seed) of the grid point that `pins` names (train, model; test picks the test).
std::vector<const Cell*> cells_at(const std::vector<Cell>& cells, const std::map<std::string, std::string>& pins);

// A metric of one test of a result, as a fraction in [0, 1]; `subset` empty = the whole test split.
std::optional<double> metric_of(const nlohmann::json& result, const std::string& test, const std::string& metric,
                                const std::string& subset = "");

// Our value at a grid point over the seeds that have a result: accuracies in percent, others as they are.
Stat ours_at(const Spec& spec, const std::vector<Cell>& cells, const Results& res,
             const std::map<std::string, std::string>& pins, const std::string& metric);

std::string metric_title(const std::string& metric);
bool metric_is_percent(const std::string& metric);  // an accuracy (fraction x 100), not a perplexity

}  // namespace repro
