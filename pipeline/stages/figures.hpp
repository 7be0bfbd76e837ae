// Figures through gnuplot. A figure is one self-contained gnuplot script (data inline as datablocks),
// so its SHA-1 identifies what it shows: the report records it and redraws only when it changes.
// Each figure is drawn twice: PNG for the Markdown report, PDF (vector) for the PDF report.
#pragma once
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace repro {

struct GnuplotFigure {
  std::string name;    // file stem: <dir>/<name>.png and .pdf
  std::string script;  // everything but the terminal and output lines
  std::string hash() const;
};

struct CurveSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;
};

struct LinePlot {
  std::string title, xlabel, ylabel;
  std::vector<CurveSeries> series;
  bool logx = false, logy = false, points = true;
  std::vector<std::pair<double, std::string>> xtics;  // empty: gnuplot's own
};

struct Heatmap {
  std::string title, xlabel, ylabel, cblabel;
  std::vector<std::vector<double>> values;   // [row][col]; NaN = no value
  std::vector<std::string> xtics, ytics;     // categorical labels (empty: numeric positions)
  bool matrix_orientation = false;           // row 0 at the top (matrices); else at the bottom (phase diagrams)
  bool labels = false;                       // print each value in its cell
  double cbmax = 0;                          // upper end of the colour range (0: the maximum)
  std::vector<double> red_cols, yellow_cols; // dashed vertical markers at these columns
  std::vector<double> red_rows;              // dashed horizontal markers
};

GnuplotFigure line_figure(const std::string& name, const LinePlot& p);
GnuplotFigure heatmap_figure(const std::string& name, const Heatmap& h);

bool gnuplot_available();
// Draws <dir>/<name>.png and <dir>/<name>.pdf (each via temp + fsync + rename); false on failure (logged).
bool draw(const GnuplotFigure& f, const std::filesystem::path& dir);

}  // namespace repro
