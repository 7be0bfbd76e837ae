// Random draws the MQAR layouts need, on the SDK's portable Rng (identical bytes on every machine).
#pragma once
#include <repro/sdk.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace mqar {
using repro::sdk::Rng;

// Draws of distinct integers. Keeps a stamp per candidate so a draw is O(1) even for 128 keys out
// of 10,000 (a linear "seen?" search would dominate generation time at the paper's sizes).
class Distinct {
 public:
  // out = n distinct integers uniform in [lo, hi), in draw order (a uniformly random ordered subset).
  // Buffers are reused across examples: allocation would otherwise dominate.
  void draw(Rng& rng, int64_t n, int64_t lo, int64_t hi, std::vector<int64_t>& out) {
    const int64_t range = hi - lo;
    out.clear();
    if (4 * n >= range) {  // dense: partial Fisher-Yates beats rejection
      all_.resize(static_cast<size_t>(range));
      for (int64_t i = 0; i < range; ++i) all_[i] = lo + i;
      for (int64_t i = 0; i < n; ++i) {
        std::swap(all_[i], all_[rng.uniform(i, range)]);
        out.push_back(all_[i]);
      }
      return;
    }
    if (static_cast<int64_t>(stamp_.size()) < range) stamp_.assign(static_cast<size_t>(range), 0);
    if (++gen_ == 0) {  // wrapped: forget all stamps
      std::fill(stamp_.begin(), stamp_.end(), 0);
      gen_ = 1;
    }
    while (static_cast<int64_t>(out.size()) < n) {
      const int64_t x = rng.uniform(lo, hi);
      if (stamp_[x - lo] == gen_) continue;
      stamp_[x - lo] = gen_;
      out.push_back(x);
    }
  }

 private:
  std::vector<int64_t> all_;
  std::vector<uint32_t> stamp_;
  uint32_t gen_ = 0;
};

// n distinct slots out of S, slot i (1-based) weighted a·i^(a-1) — zoology's query-gap law, which
// favours the slots right after the key-value block (a = 1: uniform). Successive weighted draws
// without replacement, via Efraimidis–Spirakis keys log(u)/w: the n largest keys in descending
// order have the same distribution as drawing one slot at a time.
class PowerLawSlots {
 public:
  void draw(Rng& rng, int64_t n, int64_t S, double a, std::vector<int64_t>& out) {
    if (S != cached_S_ || a != cached_a_) {
      inv_w_.resize(static_cast<size_t>(S));
      for (int64_t i = 0; i < S; ++i) inv_w_[i] = 1.0 / (a * std::pow(static_cast<double>(i + 1), a - 1));
      cached_S_ = S;
      cached_a_ = a;
    }
    keys_.resize(static_cast<size_t>(S));
    for (int64_t i = 0; i < S; ++i) {
      double u = rng.uniform01();
      while (u <= 0) u = rng.uniform01();
      keys_[i] = {std::log(u) * inv_w_[i], i};
    }
    auto larger = [](const auto& x, const auto& y) { return x.first > y.first; };
    if (n < S) std::nth_element(keys_.begin(), keys_.begin() + (n - 1), keys_.end(), larger);
    std::sort(keys_.begin(), keys_.begin() + n, larger);
    out.resize(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) out[j] = keys_[j].second;
  }

 private:
  int64_t cached_S_ = -1;
  double cached_a_ = -1;
  std::vector<double> inv_w_;
  std::vector<std::pair<double, int64_t>> keys_;
};

}  // namespace mqar
