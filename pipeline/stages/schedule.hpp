// Learning-rate schedule: linear warmup over warmup_fraction of the steps, then cosine or linear
// decay to min_lr_fraction * lr (or constant).
#pragma once
#include <algorithm>
#include <cmath>
#include <string>

namespace repro {

inline double lr_at(double lr, double warmup_fraction, double min_fraction, const std::string& schedule,
                    int64_t step, int64_t total) {
  const int64_t warm = static_cast<int64_t>(std::ceil(warmup_fraction * static_cast<double>(total)));
  if (step < warm) return lr * static_cast<double>(step + 1) / static_cast<double>(warm);
  if (schedule == "constant" || total <= warm) return lr;
  const double p = std::clamp(static_cast<double>(step - warm) / static_cast<double>(total - warm), 0.0, 1.0);
  const double floor = lr * min_fraction;
  if (schedule == "linear") return floor + (lr - floor) * (1.0 - p);
  return floor + (lr - floor) * 0.5 * (1.0 + std::cos(M_PI * p));
}

}  // namespace repro
