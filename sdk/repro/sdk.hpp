// repro plugin SDK: the one header a task or architecture plugin includes.
//
// A task turns (params, split, seed) into token sequences with targets and the per-example
// metadata probes need. An architecture turns a config into a torch module mapping tokens to logits.
// Plugins register with REPRO_REGISTER_TASK / REPRO_REGISTER_ARCHITECTURE; the loader refuses a
// plugin whose REPRO_SDK_ABI_VERSION differs from its own.
#pragma once

#include <boost/dll/alias.hpp>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

// Bump whenever a type below changes layout or a virtual signature changes.
#ifndef REPRO_SDK_ABI_VERSION
#define REPRO_SDK_ABI_VERSION 3
#endif

namespace repro::sdk {

inline constexpr int kAbiVersion = REPRO_SDK_ABI_VERSION;
inline constexpr int64_t kIgnore = -100;  // target value at positions without a label

// ---------------------------------------------------------------- parameters
enum class ParamType { Int, Float, Bool, String, IntList };
using Value = std::variant<int64_t, double, bool, std::string, std::vector<int64_t>>;

struct ParamSpec {
  std::string name;
  ParamType type;
  Value default_value;
  std::string help;
  std::optional<double> min{}, max{};  // inclusive bounds on numbers (each list element)
  std::vector<std::string> choices{};  // allowed strings, empty = any
  // false for a parameter added after results were published: while all such parameters hold their defaults they
  // are left out of the cache keys of datasets and models, so those results stay current (a new parameter must
  // default to the old behaviour); once one is set, all of them count.
  bool in_key_at_default = true;
};

// Thrown by a plugin's check() for a constraint between parameters; the core adds the spec location.
struct ParamError : std::runtime_error {
  ParamError(std::string param_name, const std::string& what)
      : std::runtime_error(what), param(std::move(param_name)) {}
  std::string param;
};

// Validated values: every declared parameter is present with its declared type.
class Params {
 public:
  Params() = default;
  explicit Params(std::map<std::string, Value> values) : values_(std::move(values)) {}
  int64_t i(const std::string& n) const { return get<int64_t>(n); }
  double f(const std::string& n) const { return get<double>(n); }
  bool b(const std::string& n) const { return get<bool>(n); }
  const std::string& s(const std::string& n) const { return get<std::string>(n); }
  const std::vector<int64_t>& ints(const std::string& n) const { return get<std::vector<int64_t>>(n); }
  const std::map<std::string, Value>& values() const { return values_; }

 private:
  template <class T>
  const T& get(const std::string& n) const {
    auto it = values_.find(n);
    if (it == values_.end()) throw std::out_of_range("parameter '" + n + "' was not declared");
    if (auto* v = std::get_if<T>(&it->second)) return *v;
    throw std::invalid_argument("parameter '" + n + "' read with the wrong type");
  }
  std::map<std::string, Value> values_;
};

// ---------------------------------------------------------------- tasks
// Thrown by generate() when an input the user provides separately (e.g. a benchmark file) is absent: the
// pipeline reports that test as "not run" for the cell instead of failing it, and retries while the cell's
// model is still in the store.
struct MissingInput : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Split { Train, Valid, Test };
inline const char* split_name(Split s) {
  return s == Split::Train ? "train" : s == Split::Valid ? "valid" : "test";
}

// One generated split. All tensors share the leading dimension N (examples).
struct Dataset {
  torch::Tensor inputs;        // [N, L] int64 token ids
  torch::Tensor targets;       // [N, L] int64, target for the logits at that position, kIgnore where none
  torch::Tensor loss_mask;     // [N, L] bool, positions that contribute to the training loss
  torch::Tensor answer_group;  // [N, L] int64, index of the query a scored token answers, -1 if unscored
  torch::Tensor subset;        // [N] int64, index into subset_names (e.g. one (L, #pairs) configuration)
  std::vector<std::string> subset_names;
  // Per-example tensors for probes, leading dim N. Conventional names the core understands:
  //   "length" [N] int64   real length; positions >= length are padding (token 0, no target, no loss).
  //                        Models are causal, so the trainer may cut a batch to its longest length.
  //   "role"   [N, L] uint8 what each position holds (enum Role); `repro generate --show` marks tokens by it.
  //   "accept" [N, L, K] int64 alternative correct answers per scored position (-1 = none): a prediction
  //                        equal to the target or any alternative counts as correct, and metrics report
  //                        how often alternative k was the one predicted.
  //   "key_pos", "value_pos", "query_pos" [N, n] int64 start position of each pair's key/value/query, -1 padded.
  std::map<std::string, torch::Tensor> meta;
};

enum Role : uint8_t { kFiller = 0, kPad = 1, kKey = 2, kValue = 3, kSeparator = 4, kQuery = 5, kAnswer = 6 };
inline constexpr const char* kRoleNames[] = {"filler", "pad", "key", "value", "separator", "query", "answer"};

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  virtual std::string version() const = 0;  // bump when generated bytes change: it is part of cache keys
  virtual std::string description() const = 0;
  virtual std::vector<ParamSpec> params() const = 0;
  // Constraints between parameters; throw ParamError naming the offending parameter.
  virtual void check(const Params&) const {}
  virtual int64_t vocab_size(const Params&) const = 0;  // token ids are in [0, vocab_size)
  virtual int64_t seq_len(const Params&) const = 0;
  // Deterministic: the same (params, split, seed, num_examples) gives the same bytes on every machine.
  // num_examples is per subset: a task with S subset_names returns S * num_examples examples.
  virtual Dataset generate(const Params&, Split split, uint64_t seed, int64_t num_examples) const = 0;
};

// ---------------------------------------------------------------- architectures
struct ModelShape {
  int64_t vocab_size;
  int64_t max_seq_len;
};

// Causal interventions on the information flow of selective SSMs ("Achilles' Heel of Mamba" §4.1, Fig. 6), applied
// in every selective-SSM layer of one forward pass. Masks are [B, L] bool; an undefined mask is no intervention.
struct SsmIntervention {
  // Blocking: S[i, j] = 0 for every source j (block_from) and target i (block_to), i.e. the targets' outputs no
  // longer read what the sources wrote into the state. The two masks must not share a position.
  torch::Tensor block_from, block_to;
  // Substitution: at the `substitute` positions each layer's SSM input (internals()' "ssm.x", the post-conv
  // activations from which Mamba-1 also derives delta, B and C) is replaced by the donor's: the internals() of
  // another batch of the same shape (e.g. twins of the inputs that differ in a few tokens).
  torch::Tensor substitute;
  std::vector<std::map<std::string, torch::Tensor>> donor;
};

class Model : public torch::nn::Module {
 public:
  // tokens [B, L] int64 -> logits [B, L, vocab] (float); causal: logits at t depend on tokens <= t.
  virtual torch::Tensor forward(const torch::Tensor& tokens) = 0;
  // Probe hook: per-layer token-mixing matrices, each [B, L, L] (row t = weights of positions <= t
  // in the output at t): attention weights for attention, the attention-like matrix for SSMs.
  // Empty when the architecture has none.
  virtual std::vector<torch::Tensor> mixing_matrices(const torch::Tensor& /*tokens*/) { return {}; }
  // Probe hook: per-layer named internal tensors of one forward pass (empty when not supported).
  // Selective SSMs use the names below, so probes can rebuild the attention-like matrix
  // alpha_ij = C_i (prod_{k=j+1..i} exp(delta_k A)) (delta_j B_j) of the Local-Pattern-Shortcuts paper (Eq. 5):
  //   "ssm.x" [B,L,D] scan input, "ssm.delta" [B,L,D] (after softplus), "ssm.A" [D,N], "ssm.B" [B,L,N],
  //   "ssm.C" [B,L,N], "ssm.D" [D], "ssm.y" [B,L,D] scan output including the D skip, before any gate.
  virtual std::vector<std::map<std::string, torch::Tensor>> internals(const torch::Tensor& /*tokens*/) { return {}; }
  // Probe hook: logits [B, L, vocab] of a forward pass under `iv` (no gradients); undefined when not supported.
  // An empty `iv` is the plain forward pass, computed the way the interventions are (the reference to compare with).
  virtual torch::Tensor intervene(const torch::Tensor& /*tokens*/, const SsmIntervention& /*iv*/) { return {}; }
};

class Architecture {
 public:
  virtual ~Architecture() = default;
  virtual std::string name() const = 0;
  virtual std::string version() const = 0;  // bump when the same config builds a different function
  virtual std::string description() const = 0;
  virtual std::vector<ParamSpec> params() const = 0;
  virtual void check(const Params&) const {}
  virtual std::shared_ptr<Model> build(const Params& config, const ModelShape& shape) const = 0;
};

// The initialisation rate gamma of the phase-diagram papers (Luo et al. 2021; Zhang et al. 2024, "Initialization
// is Critical to Whether Transformers Fit Composite Functions..."; "Achilles' Heel of Mamba" Sec. 4): every
// trainable weight of a Linear, Embedding or Conv1d layer ~ N(0, (fan_in^-gamma)^2), with fan_in = numel / size(0)
// (a Linear's input features, an embedding's width, a conv's taps per output channel). Larger gamma = smaller
// init. Biases, norms and SSM parameters keep their own init; frozen weights are left alone.
inline void init_rate(torch::nn::Module& model, double gamma) {
  torch::NoGradGuard ng;
  for (const auto& m : model.modules(/*include_self=*/false)) {  // self: not yet owned by a shared_ptr in a constructor
    torch::Tensor w;
    if (auto* l = m->as<torch::nn::Linear>()) w = l->weight;
    else if (auto* e = m->as<torch::nn::Embedding>()) w = e->weight;
    else if (auto* c = m->as<torch::nn::Conv1d>()) w = c->weight;
    if (!w.defined() || !w.requires_grad()) continue;
    const double fan_in = static_cast<double>(w.numel() / w.size(0));
    w.normal_(0, std::pow(fan_in, -gamma));
  }
}

// ---------------------------------------------------------------- deterministic randomness
// Tasks must not use std:: distributions (their output differs between standard libraries).
// SplitMix64-seeded xoshiro256**, with unbiased bounded integers (Lemire) and doubles in [0, 1).
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) w = splitmix(seed);
  }
  uint64_t next() {
    const uint64_t r = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0]; s_[3] ^= s_[1]; s_[1] ^= s_[2]; s_[0] ^= s_[3]; s_[2] ^= t; s_[3] = rotl(s_[3], 45);
    return r;
  }
  // Uniform in [lo, hi).
  int64_t uniform(int64_t lo, int64_t hi) {
    const uint64_t range = static_cast<uint64_t>(hi - lo);
    __uint128_t m = static_cast<__uint128_t>(next()) * range;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < range) {
      const uint64_t threshold = (0 - range) % range;
      while (low < threshold) {
        m = static_cast<__uint128_t>(next()) * range;
        low = static_cast<uint64_t>(m);
      }
    }
    return lo + static_cast<int64_t>(m >> 64);
  }
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // A seed for an independent stream, derived from this seed and a label (e.g. a split name).
  static uint64_t derive(uint64_t seed, const std::string& label) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the label, then mixed with the seed
    for (unsigned char c : label) h = (h ^ c) * 1099511628211ull;
    uint64_t x = seed ^ h;
    return splitmix(x);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t s_[4];
};

// Hash-disjoint splits: a hash of an example's tokens names the one split it may appear in (test 1/16,
// valid 1/16, train 14/16), so no example can be in two splits, whatever the seeds. Tasks draw until
// the example's split is the one being generated.
class SplitHash {
 public:
  void add(int64_t x) {
    h_ ^= static_cast<uint64_t>(x);
    h_ *= 1099511628211ull;
    h_ ^= h_ >> 29;
  }
  template <class It>
  void add(It first, It last) {
    for (; first != last; ++first) add(*first);
  }
  Split split() const {
    const uint64_t b = h_ % 16;
    return b == 0 ? Split::Test : b == 1 ? Split::Valid : Split::Train;
  }

 private:
  uint64_t h_ = 1469598103934665603ull;
};

namespace detail {
using TaskFactory = std::shared_ptr<Task>();
using ArchitectureFactory = std::shared_ptr<Architecture>();
}  // namespace detail
}  // namespace repro::sdk

// Registration: exactly one per plugin library. Exports the SDK ABI version and a factory.
#define REPRO_DETAIL_REGISTER(Base, Class, alias)                                         \
  namespace repro_plugin_detail {                                                         \
  extern const int sdk_abi_version;                                                       \
  const int sdk_abi_version = REPRO_SDK_ABI_VERSION;                                      \
  inline std::shared_ptr<::repro::sdk::Base> make() { return std::make_shared<Class>(); } \
  }                                                                                       \
  BOOST_DLL_ALIAS(repro_plugin_detail::sdk_abi_version, repro_sdk_abi)                    \
  BOOST_DLL_ALIAS(repro_plugin_detail::make, alias)

#define REPRO_REGISTER_TASK(Class) REPRO_DETAIL_REGISTER(Task, Class, repro_make_task)
#define REPRO_REGISTER_ARCHITECTURE(Class) \
  REPRO_DETAIL_REGISTER(Architecture, Class, repro_make_architecture)
