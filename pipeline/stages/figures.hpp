// Figures through gnuplot (PNG): line plots of series. Returns false when gnuplot is unavailable.
#pragma once
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace repro {

struct CurveSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;
};

bool plot_curves(const std::vector<CurveSeries>& series, const std::filesystem::path& png, const std::string& title,
                 const std::string& xlabel, const std::string& ylabel);

}  // namespace repro
