#include "progress.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>

#include "../core/log.hpp"

namespace repro {

namespace {
std::string hms(double s) {
  if (!(s >= 0) || s > 1e7) return "--:--";
  auto t = static_cast<long>(s);
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60) : fmt::format("{:02}:{:02}", t / 60, t % 60);
}
}  // namespace

Progress::Progress(std::string label, int64_t total, int64_t start)
    : label_(std::move(label)), total_(total), start_(start), tty_(::isatty(STDERR_FILENO) != 0),
      quiet_(log::threshold() > log::Level::Info),
      t0_(std::chrono::steady_clock::now()), last_draw_(t0_) {}

void Progress::update(int64_t step, double loss, int64_t epoch, int64_t epochs) {
  if (quiet_) return;
  auto now = std::chrono::steady_clock::now();
  const double el = std::chrono::duration<double>(now - t0_).count();
  const double rate = el > 0 ? static_cast<double>(step - start_) / el : 0;
  const double eta = rate > 0 ? static_cast<double>(total_ - step) / rate : -1;
  if (tty_) {
    if (step < total_ && std::chrono::duration<double>(now - last_draw_).count() < 0.1) return;
    last_draw_ = now;
    const int width = 24, fill = static_cast<int>(width * step / std::max<int64_t>(total_, 1));
    fmt::print(stderr, "\r{} [{}{}] {}/{} ep {}/{} loss {:.4f} {:.1f} it/s ETA {}\x1b[K", label_,
               std::string(fill, '#'), std::string(width - fill, '.'), step, total_, epoch, epochs, loss, rate, hms(eta));
  } else {
    const int64_t decile = step * 10 / std::max<int64_t>(total_, 1);
    if (decile == last_plain_ && step < total_) return;
    last_plain_ = decile;
    fmt::print(stderr, "{} step {}/{} epoch {}/{} loss {:.4f} {:.1f} it/s ETA {}\n", label_, step, total_, epoch,
               epochs, loss, rate, hms(eta));
  }
  std::fflush(stderr);
}

void Progress::note(const std::string& line) {
  if (quiet_) return;
  fmt::print(stderr, tty_ ? "\r{}\x1b[K\n" : "{}\n", line);
  std::fflush(stderr);
}

void Progress::finish() {
  if (tty_ && !quiet_) fmt::print(stderr, "\n");
}

}  // namespace repro
