#include "lr_sweep.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>
#include <map>
#include <sstream>

#include "../core/spec.hpp"

namespace repro {
using json = nlohmann::json;

std::optional<double> selected_valid_loss(const json& result) {
  std::optional<double> last, best;
  for (const auto& pt : result.value("curve", json::array()))
    if (pt.contains("valid_loss") && pt["valid_loss"].is_number()) {
      last = pt["valid_loss"].get<double>();
      best = std::min(best.value_or(*last), *last);
    }
  const json settings = result.value("training", json::object()).value("settings", json::object());
  return settings.value("select", "last") == "best_valid_loss" ? best : last;
}

void choose_learning_rates(const std::vector<Cell>& cells, Results& res) {
  // (train, model) -> lr -> the selected validation losses of its seeds with results
  std::map<std::pair<std::string, std::string>, std::vector<std::pair<double, std::vector<double>>>> points;
  for (const auto& c : cells) {
    if (!c.lr) continue;
    const auto key = std::make_pair(c.train_dataset, c.model);
    if (!points.count(key)) res.lr_choices.push_back({c.train_dataset, c.model, {}, std::nullopt});
    auto& lrs = points[key];
    if (lrs.empty() || lrs.back().first != *c.lr) lrs.emplace_back(*c.lr, std::vector<double>{});
    if (auto it = res.by_cell.find(c.id); it != res.by_cell.end())
      // A result without validation losses can only win when no lr has any.
      lrs.back().second.push_back(selected_valid_loss(it->second).value_or(std::numeric_limits<double>::infinity()));
  }
  for (auto& choice : res.lr_choices) {
    double best = 0;
    for (const auto& [lr, losses] : points.at({choice.train, choice.model})) {
      std::optional<double> mean;
      if (!losses.empty()) {
        mean = 0;
        for (double l : losses) *mean += l / static_cast<double>(losses.size());
        if (!choice.chosen || *mean < best) {
          choice.chosen = lr;
          best = *mean;
        }
      }
      choice.losses.emplace_back(lr, mean);
    }
  }
  for (const auto& c : cells) {
    if (!c.lr) continue;
    const auto choice = std::find_if(res.lr_choices.begin(), res.lr_choices.end(), [&](const LrChoice& x) {
      return x.train == c.train_dataset && x.model == c.model;
    });
    auto it = res.by_cell.find(c.id);
    if (it == res.by_cell.end() || choice->chosen == c.lr) continue;
    res.passed_over[c.id] = std::move(it->second);
    res.by_cell.erase(it);
  }
}

std::string lr_sweep_section(const Spec& spec, const Results& res) {
  if (spec.grid.lrs.empty()) return "";
  std::ostringstream o;
  o << fmt::format(
      "**Learning-rate sweep** (grid.lrs = {{{}}}, in place of each model's lr): every cell is trained once per lr. "
      "For each (train, model) the tables, figures and claims show only the lr whose checkpoints reach the lowest "
      "validation loss (mean over the seeds with results; the selected checkpoint's loss); the other lrs' results "
      "are listed under Provenance only.\n\n| train | model | validation loss per lr | lr shown |\n|---|---|---|---|\n",
      fmt::join(spec.grid.lrs, ", "));
  for (const auto& c : res.lr_choices) {
    std::vector<std::string> losses;
    for (const auto& [lr, loss] : c.losses)
      losses.push_back(fmt::format("{}: {}", lr, loss ? fmt::format("{:.4g}", *loss) : "not run"));
    o << fmt::format("| {} | {} | {} | {} |\n", c.train, c.model, fmt::join(losses, ", "),
                     c.chosen ? fmt::format("{}", *c.chosen) : "not run");
  }
  return o.str() + "\n";
}

}  // namespace repro
