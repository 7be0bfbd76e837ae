// Where keys, values and queries go in one MQAR-family example (Local-Pattern-Shortcuts paper §3,
// App. B; the released Global_Mamba generators, see /work/shared/specs/mqar.md §2).
//
// A pair is a block of P tokens: "plain" k v (zoology, P = 2) or "sep" <SEP> k.. <SEP_KV> v.. <SEP>
// (the N-gram family, P = 3 + key_len + value_len). Context blocks go where `position` says; each
// query block repeats its key with the value hidden, in the region after the context, at aligned
// block slots drawn with the power-law gap distribution.
#pragma once
#include <string>
#include <vector>

#include "sampling.hpp"

namespace mqar {

enum class Position { Standard, Last, Shuffle };
enum class Format { Plain, Sep };
enum class Noise { None, Regions, SharedSuffix };

// Token ids 0..3 are reserved; content tokens are [kFirstContent, vocab).
constexpr int64_t kPadToken = 0, kSep = 1, kSepKv = 2, kMask = 3, kFirstContent = 4;

// Everything about a dataset but its (length, #pairs) grid.
struct Variant {
  int64_t vocab = 20000;
  Position position = Position::Standard;
  Format format = Format::Plain;
  int64_t key_len = 1, value_len = 1;
  Noise noise = Noise::None;
  int64_t regions = 4;
  double power_a = 0.01;
  bool random_filler = true;
  bool sep_loss = true;

  int64_t block() const { return format == Format::Plain ? key_len + value_len : 3 + key_len + value_len; }
  int64_t key_lo() const { return kFirstContent; }
  int64_t value_lo() const { return kFirstContent + (vocab - kFirstContent) / 2; }  // keys [key_lo, value_lo)
  // Where the context region ends (queries live in [context_end, L)).
  int64_t context_end(int64_t L, int64_t n) const;
  // Empty if (L, n) fits, else why not (one sentence for an error message).
  std::string unfit(int64_t L, int64_t n) const;
};

// One generated example of length L; vectors hold exactly L (accept: L * regions) entries.
struct Example {
  std::vector<int64_t> inputs, targets, group;
  std::vector<uint8_t> loss, role;
  std::vector<int64_t> key_pos, value_pos, query_pos;  // per pair: first key / value / query-key token
  std::vector<int64_t> accept;                         // noise = regions: correct answer of every region
};

class ExampleMaker {
 public:
  explicit ExampleMaker(const Variant& v) : v_(v) {}
  // `supervise_sep`: also put the closing <SEP> of each query block under the loss (train split).
  void make(Rng& rng, int64_t L, int64_t n, bool supervise_sep, Example& e);

 private:
  void draw_keys(Rng& rng, int64_t n);
  void draw_values(Rng& rng, int64_t count);
  void put_context(Example& e, int64_t at, const int64_t* key, const int64_t* value) const;
  Variant v_;
  Distinct distinct_;
  PowerLawSlots slots_;
  // Scratch reused across examples: keys_[j*key_len + t], values_[(r*n + j)*value_len + t] (region r).
  std::vector<int64_t> keys_, values_, tmp_, at_, slot_;
};

}  // namespace mqar
