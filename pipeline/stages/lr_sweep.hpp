// Learning-rate sweeps (grid.lrs): every cell trains once per lr, and the report shows, for each (train, model),
// the lr whose checkpoints reach the lowest validation loss — chosen on validation data, never on the test sets,
// as the papers tune lr per setting. The other lrs' results stay in the provenance only.
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "report_data.hpp"

namespace repro {

struct Spec;

// The validation loss of the checkpoint a result was computed with: the lowest per-epoch valid_loss when training
// kept the best checkpoint (select = best_valid_loss), else the last epoch's; nullopt when it logged none.
std::optional<double> selected_valid_loss(const nlohmann::json& result);

// For each (train, model) of a sweep: the lr of lowest mean (over seeds) selected_valid_loss among the lrs with
// results (ties: the first listed) stays in res.by_cell, the others move to res.passed_over; res.lr_choices
// records every point. Cells without an lr (no sweep) are left alone.
void choose_learning_rates(const std::vector<Cell>& cells, Results& res);

// The report's account of the sweep: the rule, and per (train, model) each lr's validation loss and the
// choice; "" without a sweep.
std::string lr_sweep_section(const Spec& spec, const Results& res);

}  // namespace repro
