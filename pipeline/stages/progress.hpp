// Training progress: a redrawn bar with rate and ETA on a terminal, plain periodic lines otherwise;
// nothing under --quiet (and on data-parallel ranks other than 0, which run quiet).
#pragma once
#include <chrono>
#include <string>

namespace repro {

class Progress {
 public:
  Progress(std::string label, int64_t total, int64_t start);
  void update(int64_t step, double loss, int64_t epoch, int64_t epochs);
  void note(const std::string& line);  // a line that does not get overwritten
  void finish();

 private:
  std::string label_;
  int64_t total_, start_, last_plain_ = -1;
  bool tty_, quiet_;
  std::chrono::steady_clock::time_point t0_, last_draw_;
};

}  // namespace repro
