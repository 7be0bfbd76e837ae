// Task plugin "mqar": the multi-query associative recall family of "Revealing and Mitigating the
// Local Pattern Shortcuts of Mamba" — standard / last / shuffle positions, N-gram keys and values
// with separators, and the two noise-injection test sets (K1V1*, K2V2*). layout.* places one example;
// this file turns the parameters into a (length, #pairs) grid, draws every example, and keeps the
// train, valid and test splits disjoint by construction. README.md maps paper names to parameters.
#include <repro/sdk.hpp>

#include <algorithm>

#include "layout.hpp"

namespace {
using namespace repro::sdk;
using mqar::Example;
using mqar::Variant;

template <class E>
E pick(const std::string& s, std::initializer_list<std::pair<const char*, E>> names) {
  for (const auto& [n, e] : names)
    if (s == n) return e;
  throw std::invalid_argument("unreachable: choice '" + s + "' was validated by its ParamSpec");
}

Variant variant_of(const Params& p) {
  Variant v;
  v.vocab = p.i("vocab_size");
  v.position = pick<mqar::Position>(p.s("position"), {{"standard", mqar::Position::Standard},
                                                      {"last", mqar::Position::Last},
                                                      {"shuffle", mqar::Position::Shuffle}});
  v.format = p.s("format") == "sep" ? mqar::Format::Sep : mqar::Format::Plain;
  v.key_len = p.i("key_len");
  v.value_len = p.i("value_len");
  v.noise = pick<mqar::Noise>(p.s("noise"), {{"none", mqar::Noise::None},
                                             {"regions", mqar::Noise::Regions},
                                             {"shared_suffix", mqar::Noise::SharedSuffix}});
  v.regions = p.i("regions");
  v.power_a = p.f("power_a");
  v.random_filler = p.s("filler") == "random";
  v.sep_loss = p.b("sep_loss");
  return v;
}

struct Config {
  int64_t length, pairs;
  std::string name() const { return "L" + std::to_string(length) + "-n" + std::to_string(pairs); }
};

// The (length, #pairs) grid: every length with every pair count, in the order given; pairs that do
// not fit a length are an error unless unfit = "skip" (the paper's grid keeps only what fits).
std::vector<Config> grid(const Params& p, const Variant& v) {
  std::vector<Config> out;
  for (int64_t L : p.ints("seq_len"))
    for (int64_t n : p.ints("num_kv_pairs")) {
      const std::string why = v.unfit(L, n);
      if (why.empty()) out.push_back({L, n});
      else if (p.s("unfit") == "error")
        throw ParamError("num_kv_pairs", "length " + std::to_string(L) + ", " + std::to_string(n) + " pairs: " + why +
                                             " (set unfit = \"skip\" to drop configurations that do not fit)");
    }
  if (out.empty()) throw ParamError("num_kv_pairs", "no (seq_len, num_kv_pairs) configuration fits");
  return out;
}

// The split an example may appear in (sdk::SplitHash): train and test never share an example.
Split split_of(const Example& e) {
  SplitHash h;
  h.add(e.inputs.begin(), e.inputs.end());
  h.add(e.targets.begin(), e.targets.end());
  return h.split();
}

class Mqar final : public Task {
 public:
  std::string name() const override { return "mqar"; }
  std::string version() const override { return "2"; }
  std::string description() const override {
    return "Multi-query associative recall family: standard/last/shuffle positions, N-gram keys/values, noise";
  }
  std::vector<ParamSpec> params() const override {
    return {
        {"vocab_size", ParamType::Int, int64_t{20000},
         "token ids [0, V): 0-3 reserved (pad, <SEP>, <SEP_KV>, <MASK>), keys [4, 4+(V-4)/2), values above", 8,
         1 << 24},
        {"seq_len", ParamType::IntList, std::vector<int64_t>{64}, "sequence lengths L (even); several = mixed lengths", 4,
         1 << 20},
        {"num_kv_pairs", ParamType::IntList, std::vector<int64_t>{8},
         "key-value pairs per example; each (L, n) is one subset with its own examples", 1, 1 << 20},
        {"position", ParamType::String, std::string("standard"),
         "where the pairs go: standard (packed at the start), last (end of the first half), shuffle (anywhere "
         "in the first half); queries follow",
         {}, {}, {"standard", "last", "shuffle"}},
        {"format", ParamType::String, std::string("plain"),
         "plain: k v (zoology); sep: <SEP> k.. <SEP_KV> v.. <SEP> (the paper's N-gram format)", {}, {}, {"plain", "sep"}},
        {"key_len", ParamType::Int, int64_t{1}, "tokens per key (N of KNVM; > 1 needs format = sep)", 1, 64},
        {"value_len", ParamType::Int, int64_t{1}, "tokens per value (M of KNVM; > 1 needs format = sep)", 1, 64},
        {"noise", ParamType::String, std::string("none"),
         "regions: K1V1* (the keys repeat in every region of the first half with other values, any counts); "
         "shared_suffix: K2V2* (all keys share their last key_len-1 tokens)",
         {}, {}, {"none", "regions", "shared_suffix"}},
        {"regions", ParamType::Int, int64_t{4}, "noise = regions: regions of the first half", 2, 64},
        {"power_a", ParamType::Float, 0.01, "query-gap power law exponent a (1 = uniform)", 1e-6, 1.0},
        {"filler", ParamType::String, std::string("random"), "unused positions: random content tokens or 0", {}, {},
         {"random", "zero"}},
        {"sep_loss", ParamType::Bool, true, "format = sep, train split: also train on each query's closing <SEP>"},
        {"unfit", ParamType::String, std::string("error"),
         "(L, n) configurations that do not fit: error, or skip them (the paper's grid)", {}, {}, {"error", "skip"}},
    };
  }
  void check(const Params& p) const override {
    const Variant v = variant_of(p);
    if (v.format == mqar::Format::Plain && (v.key_len != 1 || v.value_len != 1))
      throw ParamError(v.key_len != 1 ? "key_len" : "value_len",
                       "keys or values of several tokens need format = \"sep\" (without separators an N-token key "
                       "could be recognised by its last token alone, paper B.3)");
    if (v.noise == mqar::Noise::SharedSuffix && v.key_len < 2)
      throw ParamError("key_len", "noise = \"shared_suffix\" needs keys of at least 2 tokens (K2V2*)");
    if (v.noise == mqar::Noise::Regions && v.position != mqar::Position::Standard)
      throw ParamError("position", "noise = \"regions\" has its own layout (pairs at the start of each region); "
                                   "leave position = \"standard\"");
    grid(p, v);
  }
  int64_t vocab_size(const Params& p) const override { return p.i("vocab_size"); }
  int64_t seq_len(const Params& p) const override {
    const auto& l = p.ints("seq_len");
    return *std::max_element(l.begin(), l.end());
  }

  Dataset generate(const Params& p, Split split, uint64_t seed, int64_t count) const override {
    const Variant v = variant_of(p);
    const auto configs = grid(p, v);
    const int64_t W = seq_len(p), N = count * static_cast<int64_t>(configs.size());
    int64_t nmax = 0;
    for (const auto& c : configs) nmax = std::max(nmax, c.pairs);
    const int64_t R = v.noise == mqar::Noise::Regions ? v.regions : 0;

    Dataset d;
    d.inputs = torch::full({N, W}, mqar::kPadToken, torch::kInt64);
    d.targets = torch::full({N, W}, kIgnore, torch::kInt64);
    d.loss_mask = torch::zeros({N, W}, torch::kBool);
    d.answer_group = torch::full({N, W}, -1, torch::kInt64);
    d.subset = torch::empty({N}, torch::kInt64);
    auto role = torch::full({N, W}, static_cast<int64_t>(kPad), torch::kUInt8);
    auto length = torch::empty({N}, torch::kInt64);
    auto key_pos = torch::full({N, nmax}, -1, torch::kInt64), value_pos = key_pos.clone(), query_pos = key_pos.clone();
    torch::Tensor accept = R ? torch::full({N, W, R}, -1, torch::kInt64) : torch::Tensor();

    int64_t *in = d.inputs.data_ptr<int64_t>(), *tg = d.targets.data_ptr<int64_t>(),
            *ag = d.answer_group.data_ptr<int64_t>(), *sub = d.subset.data_ptr<int64_t>(), *len = length.data_ptr<int64_t>(),
            *kp = key_pos.data_ptr<int64_t>(), *vp = value_pos.data_ptr<int64_t>(), *qp = query_pos.data_ptr<int64_t>(),
            *ac = R ? accept.data_ptr<int64_t>() : nullptr;
    bool* lm = d.loss_mask.data_ptr<bool>();
    uint8_t* ro = role.data_ptr<uint8_t>();

    mqar::ExampleMaker maker(v);
    Example e;
    const bool supervise_sep = v.format == mqar::Format::Sep && v.sep_loss && split == Split::Train;
    int64_t row = 0;
    for (size_t s = 0; s < configs.size(); ++s) {
      const auto [L, n] = configs[s];
      d.subset_names.push_back(configs[s].name());
      // One stream per configuration: a configuration's examples do not depend on the rest of the grid.
      Rng rng(Rng::derive(seed, configs[s].name()));
      int64_t attempts = 0;
      for (int64_t k = 0; k < count; ++k, ++row) {
        do {
          if (++attempts > 64 * count + 10000)
            throw ParamError("num_kv_pairs", configs[s].name() + ": too few distinct examples exist to draw " +
                                                 std::to_string(count) + " for the " + split_name(split) +
                                                 " split (enlarge vocab_size or seq_len)");
          maker.make(rng, L, n, supervise_sep, e);
        } while (split_of(e) != split);
        // Raw row pointers: per-row tensor views would cost more than generating the example.
        std::copy(e.inputs.begin(), e.inputs.end(), in + row * W);
        std::copy(e.targets.begin(), e.targets.end(), tg + row * W);
        std::copy(e.loss.begin(), e.loss.end(), lm + row * W);
        std::copy(e.group.begin(), e.group.end(), ag + row * W);
        std::copy(e.role.begin(), e.role.end(), ro + row * W);
        std::copy(e.key_pos.begin(), e.key_pos.end(), kp + row * nmax);
        std::copy(e.value_pos.begin(), e.value_pos.end(), vp + row * nmax);
        std::copy(e.query_pos.begin(), e.query_pos.end(), qp + row * nmax);
        if (R) std::copy(e.accept.begin(), e.accept.end(), ac + row * W * R);
        sub[row] = static_cast<int64_t>(s);
        len[row] = L;
      }
    }
    d.meta = {{"role", role}, {"length", length}, {"key_pos", key_pos}, {"value_pos", value_pos}, {"query_pos", query_pos}};
    if (R) d.meta["accept"] = accept;
    return d;
  }
};

}  // namespace

REPRO_REGISTER_TASK(Mqar)
