#include "figures.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "../core/fs.hpp"
#include "../core/hash.hpp"
#include "../core/log.hpp"

namespace repro {
namespace fs = std::filesystem;

namespace {

std::string quoted(std::string s) {
  for (auto& c : s)
    if (c == '"' || c == '_') c = c == '"' ? '\'' : '-';  // gnuplot's enhanced text treats _ as subscript
  return "\"" + s + "\"";
}

// A title over ~72 characters runs past the canvas's left edge (the key takes the right third): broken into
// lines at spaces, joined by gnuplot's "\n".
std::string wrapped(const std::string& title) {
  constexpr size_t kWidth = 72;
  std::string out, line, word;
  std::istringstream words(title);
  while (words >> word) {
    if (!line.empty() && line.size() + 1 + word.size() > kWidth) {
      out += line + "\\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return out + line;
}

// One style for every figure: the same font, grid and palette (viridis: light = high, as in the paper).
constexpr const char* kStyle =
    "set grid\nset key outside right top\n"
    "set palette defined (0 '#440154', 1 '#3b528b', 2 '#21918c', 3 '#5ec962', 4 '#fde725')\n";

std::string number(double x) { return std::isfinite(x) ? fmt::format("{:.6g}", x) : "NaN"; }

std::string tics(const char* axis, const std::vector<std::string>& labels) {
  if (labels.empty()) return "";
  std::string s = fmt::format("set {}tics (", axis);
  for (size_t i = 0; i < labels.size(); ++i) s += fmt::format("{}{} {}", i ? ", " : "", quoted(labels[i]), i);
  return s + ")\n";
}

bool run_gnuplot(const std::string& script, const fs::path& out, const fs::path& scratch) {
  const fs::path gp = scratch / "plot.gp", err = scratch / "err";
  std::ofstream(gp) << script;
  const int rc = std::system(fmt::format("gnuplot '{}' 2>'{}'", gp.string(), err.string()).c_str());
  if (rc != 0 || !fs::exists(out)) {
    log::warn("gnuplot failed for {}: {}", out.string(), fs::exists(err) ? read_file(err) : "");
    return false;
  }
  return true;
}

}  // namespace

std::string GnuplotFigure::hash() const { return sha1_hex(script); }

GnuplotFigure line_figure(const std::string& name, const LinePlot& p) {
  std::ostringstream s;
  s << kStyle << "set title " << quoted(wrapped(p.title)) << "\nset xlabel " << quoted(p.xlabel) << "\nset ylabel "
    << quoted(p.ylabel) << "\n";
  if (p.logx) s << "set logscale x 2\n";
  if (p.logy) s << "set logscale y\n";
  if (!p.xtics.empty()) {
    s << "set xtics (";
    for (size_t i = 0; i < p.xtics.size(); ++i)
      s << (i ? ", " : "") << quoted(p.xtics[i].second) << " " << number(p.xtics[i].first);
    s << ")\n";
  }
  for (size_t i = 0; i < p.series.size(); ++i) {
    s << "$S" << i << " << EOD\n";
    for (const auto& [x, y] : p.series[i].points) s << number(x) << " " << number(y) << "\n";
    s << "EOD\n";
  }
  s << "plot ";
  for (size_t i = 0; i < p.series.size(); ++i)
    s << (i ? ", " : "") << "$S" << i << " using 1:2 with " << (p.points ? "linespoints pt 7 ps 0.8" : "lines")
      << " lw 2 title " << quoted(p.series[i].name);
  s << "\n";
  return {name, s.str()};
}

GnuplotFigure heatmap_figure(const std::string& name, const Heatmap& h) {
  std::ostringstream s;
  const size_t rows = h.values.size(), cols = rows ? h.values[0].size() : 0;
  s << kStyle << "unset grid\nset title " << quoted(wrapped(h.title)) << "\nset xlabel " << quoted(h.xlabel)
    << "\nset ylabel " << quoted(h.ylabel) << "\nset cblabel " << quoted(h.cblabel) << "\n";
  s << "set xrange [-0.5:" << number(cols - 0.5) << "]\n";
  if (h.matrix_orientation) s << "set yrange [" << number(rows - 0.5) << ":-0.5]\nset size ratio -1\n";
  else s << "set yrange [-0.5:" << number(rows - 0.5) << "]\n";
  if (h.cbmax > 0) s << "set cbrange [0:" << number(h.cbmax) << "]\n";
  s << tics("x", h.xtics) << tics("y", h.ytics);
  auto arrow = [&](bool vertical, double at, const char* colour) {
    s << (vertical ? fmt::format("set arrow from {0},graph 0 to {0},graph 1", number(at))
                   : fmt::format("set arrow from graph 0,first {0} to graph 1,first {0}", number(at)))
      << " nohead front dt 2 lw 1.5 lc rgb '" << colour << "'\n";
  };
  for (double c : h.red_cols) arrow(true, c, "red");
  for (double r : h.red_rows) arrow(false, r, "red");
  for (double c : h.yellow_cols) arrow(true, c, "#ffd700");
  s << "$M << EOD\n";
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) s << c << " " << r << " " << number(h.values[r][c]) << "\n";
  s << "EOD\nplot $M using 1:2:3 with image notitle";
  if (h.labels) s << ", $M using 1:2:(sprintf('%.2f', $3)) with labels font ',8' tc rgb 'white' notitle";
  s << "\n";
  return {name, s.str()};
}

bool gnuplot_available() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

bool draw(const GnuplotFigure& f, const fs::path& dir) {
  if (!gnuplot_available()) {
    log::warn("gnuplot not found: {} not drawn", f.name);
    return false;
  }
  fs::create_directories(dir);
  const fs::path scratch = fs::temp_directory_path() / fmt::format("repro-plot-{}-{}", ::getpid(), f.hash());
  fs::create_directories(scratch);
  bool ok = true;
  for (const auto& [ext, terminal] : {std::pair{"png", "pngcairo size 900,640 font 'Sans,11'"},
                                      std::pair{"pdf", "pdfcairo size 6in,4.3in font 'Sans,9'"}}) {
    const fs::path out = dir / (f.name + "." + ext), tmp = scratch / (f.name + "." + ext);
    if (!run_gnuplot(fmt::format("set terminal {}\nset output '{}'\n{}", terminal, tmp.string(), f.script), tmp,
                     scratch)) {
      ok = false;
      break;
    }
    // Same bytes through the atomic writer: the scratch directory may be on another file system.
    write_file_atomic(out, read_file(tmp));
  }
  fs::remove_all(scratch);
  return ok;
}

}  // namespace repro
