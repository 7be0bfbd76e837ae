// The report's figures, built from results alone: attention-like / information-flow matrices from the
// probe files (with key/value positions in red and the most-attended position in yellow, as in
// Figure 4 of the Local-Pattern-Shortcuts paper), accuracy sweeps with one line per series, phase
// diagrams, and training-loss curves.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "figures.hpp"
#include "report_data.hpp"

namespace repro {

struct ReportFigure {
  std::string title;
  std::optional<GnuplotFigure> figure;  // nullopt: nothing to draw yet (the note says why)
  std::string note;                     // caption, or why the figure is absent
};

// Figure file stems are "<spec name>-<figure id>".
std::vector<ReportFigure> report_figures(const Spec& spec, const std::vector<Cell>& cells, const Results& res);

// Accuracy points of a sweep or phase figure (exposed for tests): value in [0, 1] averaged over seeds
// and over the subsets that share an axis value.
struct SweepPoint {
  std::string series;
  double x = 0, y = 0, value = 0;
  std::string x_name;  // x = "subset": the subset's own name (e.g. "04"), a category drawn at its rank, not at x
};
std::vector<SweepPoint> sweep_points(const Spec& spec, const std::vector<Cell>& cells, const Results& res,
                                     const FigureSpec& f);
// The label a sweep's points carry for the series whose id (a dataset, model or architecture) is `id`.
std::string series_label(const Spec& spec, const FigureSpec& f, const std::string& id);

}  // namespace repro
