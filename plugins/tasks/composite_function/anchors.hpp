// The anchor functions of the composite-function task ("Achilles' Heel of Mamba", Fig. 2, App. "Data setup"):
// anchor a in 1..4 adds shift[a] to the key; a pair "ab" applies a then b (key + shift[a] + shift[b]),
// except the pair "34", which has its own shift. The pair "43" is never trained: its composite answer
// (key + shift[4] + shift[3]) and its symmetric answer (the answer of "34") tell which solution a model learned.
// The "full symmetry" table (App., Fig. 7a): anchors 0..4, the 20 pairs of two different anchors, each pair the sum of
// its anchors' shifts under one of two shift sets, a pair and its mirror always under the same one — so every trained
// pair's mirror has the same function, and "43" (held out) is "34"'s mirror.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace composite {

constexpr int64_t kHeldA = 4, kHeldB = 3;  // "43": held out of training

struct Pair {
  int64_t a, b;  // anchor labels
  std::string name() const { return std::to_string(a) + std::to_string(b); }
  bool held_out() const { return a == kHeldA && b == kHeldB; }
};

// An anchor's token id: labels 1-4 are their own ids; the full-symmetry table's anchor 0 is id 5 (0 is padding).
inline int64_t anchor_token(int64_t a) { return a == 0 ? 5 : a; }

struct Functions {
  std::vector<Pair> all;                 // every pair in subset order, the held-out one included
  std::map<std::string, int64_t> shift;  // each pair's answer minus its key (the held-out pair: its composite reading)
  int64_t symmetric43 = 0;               // the held-out pair's symmetric reading: the shift of its mirror "34"

  int64_t composite(const Pair& p, int64_t key) const { return key + shift.at(p.name()); }
  int64_t symmetric(const Pair& p, int64_t key) const { return p.held_out() ? key + symmetric43 : composite(p, key); }
  std::vector<Pair> pairs(bool with_held_out) const {
    std::vector<Pair> out;
    for (const auto& p : all)
      if (with_held_out || !p.held_out()) out.push_back(p);
    return out;
  }
  int64_t min_shift() const { return extreme(false); }
  int64_t max_shift() const { return extreme(true); }

 private:
  int64_t extreme(bool largest) const {  // over every answer, the held-out pair's two readings included
    int64_t m = symmetric43;
    for (const auto& [_, s] : shift) m = largest ? std::max(m, s) : std::min(m, s);
    return m;
  }
};

// The paper's table: anchors 1..4 with shift[a - 1], pairs "11" ... "44" in that order, "34" its own shift.
inline Functions standard(const std::array<int64_t, 4>& shift, int64_t pair34_shift) {
  Functions f;
  for (int64_t a = 1; a <= 4; ++a)
    for (int64_t b = 1; b <= 4; ++b) {
      const Pair p{a, b};
      f.all.push_back(p);
      f.shift[p.name()] = a == 3 && b == 4 ? pair34_shift : shift[a - 1] + shift[b - 1];
    }
  f.symmetric43 = pair34_shift;
  return f;
}

// The full-symmetry table: anchors 0..4, pairs "01" ... "43" (a != b) in that order; the pairs of `first_set`
// (with their mirrors) add their anchors' shifts from set1, the others from set2.
inline Functions full_symmetry(const std::array<int64_t, 5>& set1, const std::array<int64_t, 5>& set2) {
  static const std::vector<std::string> first_set = {"01", "02", "14", "23", "34"};
  Functions f;
  for (int64_t a = 0; a <= 4; ++a)
    for (int64_t b = 0; b <= 4; ++b) {
      if (a == b) continue;
      const Pair p{a, b};
      const std::string sorted = std::to_string(std::min(a, b)) + std::to_string(std::max(a, b));
      const auto& set = std::find(first_set.begin(), first_set.end(), sorted) != first_set.end() ? set1 : set2;
      f.all.push_back(p);
      f.shift[p.name()] = set[a] + set[b];
    }
  f.symmetric43 = f.shift.at("34");
  return f;
}

}  // namespace composite
