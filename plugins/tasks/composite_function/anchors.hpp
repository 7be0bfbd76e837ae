// The anchor functions of the composite-function task ("Achilles' Heel of Mamba", Fig. 2, App. "Data setup"):
// anchor a in 1..4 adds shift[a] to the key; a pair "ab" applies a then b (key + shift[a] + shift[b]),
// except the pair "34", which has its own shift. The pair "43" is never trained: its composite answer
// (key + shift[4] + shift[3]) and its symmetric answer (the answer of "34") tell which solution a model learned.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace composite {

constexpr int64_t kAnchors = 4;                 // anchor tokens are the ids 1..4
constexpr int64_t kSpecialA = 3, kSpecialB = 4;  // "34": a function of its own
constexpr int64_t kHeldA = 4, kHeldB = 3;        // "43": held out of training

struct Pair {
  int64_t a, b;
  std::string name() const { return std::to_string(a) + std::to_string(b); }
  bool held_out() const { return a == kHeldA && b == kHeldB; }
  bool special() const { return a == kSpecialA && b == kSpecialB; }
};

struct Functions {
  std::array<int64_t, kAnchors> shift;  // shift[a - 1]
  int64_t special_shift;                // the pair "34"

  int64_t composite(const Pair& p, int64_t key) const {
    return p.special() ? key + special_shift : key + shift[p.a - 1] + shift[p.b - 1];
  }
  // The symmetric solution reads "43" as "34"; every other pair is unchanged.
  int64_t symmetric(const Pair& p, int64_t key) const {
    return p.held_out() ? key + special_shift : composite(p, key);
  }
  int64_t min_shift() const { return extreme(false); }
  int64_t max_shift() const { return extreme(true); }

 private:
  // Over the answers of all 16 pairs relative to the key (the held-out pair's two readings included).
  int64_t extreme(bool largest) const {
    int64_t m = special_shift;
    for (int64_t a = 1; a <= kAnchors; ++a)
      for (int64_t b = 1; b <= kAnchors; ++b) {
        const int64_t s = shift[a - 1] + shift[b - 1];
        m = largest ? std::max(m, s) : std::min(m, s);
      }
    return m;
  }
};

// Pairs in the order "11", "12", ..., "44"; without the held-out pair when `with_held_out` is false.
inline std::vector<Pair> pairs(bool with_held_out) {
  std::vector<Pair> out;
  for (int64_t a = 1; a <= kAnchors; ++a)
    for (int64_t b = 1; b <= kAnchors; ++b)
      if (with_held_out || !Pair{a, b}.held_out()) out.push_back({a, b});
  return out;
}

}  // namespace composite
