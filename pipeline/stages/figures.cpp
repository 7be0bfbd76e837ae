#include "figures.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "../core/fs.hpp"
#include "../core/log.hpp"

namespace repro {
namespace fs = std::filesystem;

namespace {
std::string quoted(std::string s) {
  for (auto& c : s)
    if (c == '"' || c == '_') c = c == '"' ? '\'' : '-';  // gnuplot's enhanced text treats _ as subscript
  return "\"" + s + "\"";
}
}  // namespace

bool plot_curves(const std::vector<CurveSeries>& series, const fs::path& png, const std::string& title,
                 const std::string& xlabel, const std::string& ylabel) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    log::warn("gnuplot not found: {} not drawn", png.string());
    return false;
  }
  fs::create_directories(png.parent_path());
  const fs::path tmp = fs::temp_directory_path() / fmt::format("repro-plot-{}", ::getpid());
  fs::create_directories(tmp);
  std::string script = fmt::format(
      "set terminal pngcairo size 900,520 font 'Sans,11'\nset output {}\nset title {}\nset xlabel {}\n"
      "set ylabel {}\nset grid\nset key outside right top\nset logscale y\nplot ",
      quoted(png.string() + ".tmp.png"), quoted(title), quoted(xlabel), quoted(ylabel));
  for (size_t i = 0; i < series.size(); ++i) {
    const fs::path dat = tmp / fmt::format("s{}.dat", i);
    std::ofstream d(dat);
    for (const auto& [x, y] : series[i].points) d << x << " " << y << "\n";
    script += fmt::format("{}{} using 1:2 with lines lw 2 title {}", i ? ", " : "", quoted(dat.string()),
                          quoted(series[i].name));
  }
  script += "\n";
  std::ofstream(tmp / "plot.gp") << script;
  const int rc = std::system(fmt::format("gnuplot '{}' 2>'{}'", (tmp / "plot.gp").string(), (tmp / "err").string()).c_str());
  bool ok = rc == 0 && fs::exists(png.string() + ".tmp.png");
  if (ok) {
    fs::rename(png.string() + ".tmp.png", png);
  } else {
    log::warn("gnuplot failed for {}: {}", png.string(), read_file(tmp / "err"));
  }
  fs::remove_all(tmp);
  return ok;
}

}  // namespace repro
