#include "layout.hpp"

#include <algorithm>

namespace mqar {
using repro::sdk::kIgnore;
namespace role = repro::sdk;

int64_t Variant::context_end(int64_t L, int64_t n) const {
  // Standard packs the context at the start; every other layout keeps the first half for it.
  return position == Position::Standard && noise != Noise::Regions ? n * block() : L / 2;
}

std::string Variant::unfit(int64_t L, int64_t n) const {
  const int64_t P = block(), C = context_end(L, n);
  const std::string pairs = std::to_string(n) + " pairs of " + std::to_string(P) + " tokens";
  if (L % 2) return "the length must be even";
  if (noise == Noise::Regions) {
    const int64_t B = (L / 2) / regions;
    if (n * P > B)
      return pairs + " do not fit in each of the " + std::to_string(regions) + " regions of " + std::to_string(B) +
             " tokens (first half split in `regions`)";
  } else if (position == Position::Standard) {
    if (C > L) return pairs + " do not fit";
  } else if (position == Position::Last && n * P > L / 2) {
    return pairs + " do not fit in the first half (" + std::to_string(L / 2) + " tokens)";
  } else if (position == Position::Shuffle && (L / 2) / P < n) {
    return pairs + " do not fit in the " + std::to_string((L / 2) / P) + " block slots of the first half";
  }
  if ((L - C) / P < n)
    return "the " + std::to_string(n) + " queries (" + std::to_string(P) + " tokens each) do not fit after the context (" +
           std::to_string(L - C) + " tokens left)";
  const int64_t key_pool = value_lo() - key_lo(), value_pool = vocab - value_lo();
  if (key_len == 1 || noise == Noise::SharedSuffix) {
    if (n > key_pool) return std::to_string(n) + " distinct keys need a vocabulary with more key tokens";
  }
  const int64_t copies = noise == Noise::Regions ? regions : 1;
  if (value_len == 1 && n * copies > value_pool)
    return std::to_string(n * copies) + " distinct values need a vocabulary with more value tokens";
  return "";
}

void ExampleMaker::draw_keys(Rng& rng, int64_t n) {
  const int64_t lo = v_.key_lo(), hi = v_.value_lo(), kl = v_.key_len;
  keys_.resize(static_cast<size_t>(n * kl));
  if (v_.noise == Noise::SharedSuffix) {
    // All keys share their last key_len-1 tokens and differ in the first (paper B.4: "fix the last
    // n-1 tokens ... randomly replace one token"), so the suffix alone never identifies a pair.
    for (int64_t t = 1; t < kl; ++t) keys_[t] = rng.uniform(lo, hi);
    distinct_.draw(rng, n, lo, hi, tmp_);
    for (int64_t j = 0; j < n; ++j) {
      keys_[j * kl] = tmp_[j];
      for (int64_t t = 1; t < kl; ++t) keys_[j * kl + t] = keys_[t];
    }
  } else if (kl == 1) {
    distinct_.draw(rng, n, lo, hi, keys_);
  } else {
    // Tokens with replacement (as the released n-gram generator), but whole keys distinct: a
    // repeated key would make its queries ambiguous.
    for (int64_t j = 0; j < n; ++j) {
      int64_t* k = keys_.data() + j * kl;
      bool repeated;
      do {
        for (int64_t t = 0; t < kl; ++t) k[t] = rng.uniform(lo, hi);
        repeated = false;
        for (int64_t i = 0; i < j && !repeated; ++i) repeated = std::equal(k, k + kl, keys_.data() + i * kl);
      } while (repeated);
    }
  }
}

void ExampleMaker::draw_values(Rng& rng, int64_t count) {
  if (v_.value_len == 1) return distinct_.draw(rng, count, v_.value_lo(), v_.vocab, values_);
  values_.resize(static_cast<size_t>(count * v_.value_len));
  for (auto& t : values_) t = rng.uniform(v_.value_lo(), v_.vocab);
}

void ExampleMaker::put_context(Example& e, int64_t at, const int64_t* key, const int64_t* value) const {
  auto put = [&](int64_t token, uint8_t r) {
    e.inputs[at] = token;
    e.role[at++] = r;
  };
  const bool sep = v_.format == Format::Sep;
  if (sep) put(kSep, role::kSeparator);
  for (int64_t t = 0; t < v_.key_len; ++t) put(key[t], role::kKey);
  if (sep) put(kSepKv, role::kSeparator);
  for (int64_t t = 0; t < v_.value_len; ++t) put(value[t], role::kValue);
  if (sep) put(kSep, role::kSeparator);
}

void ExampleMaker::make(Rng& rng, int64_t L, int64_t n, bool supervise_sep, Example& e) {
  const int64_t P = v_.block(), C = v_.context_end(L, n), kl = v_.key_len, vl = v_.value_len;
  const bool sep = v_.format == Format::Sep;
  const int64_t R = v_.noise == Noise::Regions ? v_.regions : 1;

  e.inputs.resize(static_cast<size_t>(L));
  for (auto& t : e.inputs) t = v_.random_filler ? rng.uniform(v_.key_lo(), v_.vocab) : kPadToken;
  e.targets.assign(static_cast<size_t>(L), kIgnore);
  e.group.assign(static_cast<size_t>(L), -1);
  e.loss.assign(static_cast<size_t>(L), 0);
  e.role.assign(static_cast<size_t>(L), role::kFiller);
  e.accept.assign(v_.noise == Noise::Regions ? static_cast<size_t>(L * R) : 0, -1);
  e.key_pos.assign(static_cast<size_t>(n), -1);
  e.value_pos.assign(static_cast<size_t>(n), -1);
  e.query_pos.assign(static_cast<size_t>(n), -1);

  draw_keys(rng, n);
  draw_values(rng, n * R);
  auto key = [&](int64_t j) { return keys_.data() + j * kl; };
  auto value = [&](int64_t r, int64_t j) { return values_.data() + (r * n + j) * vl; };

  // Context blocks.
  auto& at = at_;
  at.resize(static_cast<size_t>(n));
  if (v_.noise == Noise::Regions) {
    const int64_t B = (L / 2) / R;  // every region starts with the same keys, each with its own values
    for (int64_t r = 0; r < R; ++r)
      for (int64_t j = 0; j < n; ++j) put_context(e, r * B + j * P, key(j), value(r, j));
    for (int64_t j = 0; j < n; ++j) at[j] = j * P;
  } else {
    if (v_.position == Position::Shuffle) {
      distinct_.draw(rng, n, 0, (L / 2) / P, at);
      for (auto& a : at) a *= P;
    } else {
      const int64_t first = v_.position == Position::Last ? L / 2 - n * P : 0;
      for (int64_t j = 0; j < n; ++j) at[j] = first + j * P;
    }
    for (int64_t j = 0; j < n; ++j) put_context(e, at[j], key(j), value(0, j));
  }

  // Query blocks: the key again, value hidden; the model must output value token t at the
  // position just before it (the key's last token / <SEP_KV>, then each hidden slot).
  auto& g = slot_;
  if (v_.power_a == 1.0) distinct_.draw(rng, n, 0, (L - C) / P, g);
  else slots_.draw(rng, n, (L - C) / P, v_.power_a, g);
  for (int64_t j = 0; j < n; ++j) {
    const int64_t q = C + g[j] * P;
    int64_t p = q;
    if (sep) e.inputs[p] = kSep, e.role[p++] = role::kSeparator;
    for (int64_t t = 0; t < kl; ++t) e.inputs[p] = key(j)[t], e.role[p++] = role::kQuery;
    if (sep) e.inputs[p] = kSepKv, e.role[p++] = role::kSeparator;
    const int64_t first_answer = p;  // hidden value slots: filler (plain, as zoology) or <MASK> (sep)
    for (int64_t t = 0; t < vl; ++t) {
      if (sep) e.inputs[p] = kMask;
      e.role[p++] = role::kAnswer;
    }
    if (sep) e.inputs[p] = kSep, e.role[p] = role::kSeparator;
    for (int64_t t = 0; t < vl; ++t) {
      const int64_t pos = first_answer - 1 + t;
      e.targets[pos] = value(0, j)[t];
      e.loss[pos] = 1;
      e.group[pos] = j;
      if (!e.accept.empty())
        for (int64_t r = 0; r < R; ++r) e.accept[pos * R + r] = value(r, j)[t];
    }
    if (sep && supervise_sep) {  // paper B.5: also learn to close the block
      e.targets[first_answer + vl - 1] = kSep;
      e.loss[first_answer + vl - 1] = 1;
    }
    e.key_pos[j] = at[j] + (sep ? 1 : 0);
    e.value_pos[j] = at[j] + (sep ? 2 : 0) + kl;
    e.query_pos[j] = q + (sep ? 1 : 0);
  }
}

}  // namespace mqar
