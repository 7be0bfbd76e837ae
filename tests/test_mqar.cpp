// The MQAR family task plugin: fixed bytes per variant, layout invariants, split disjointness, errors.
#include <set>

#include "core/dataset_io.hpp"
#include "core/hash.hpp"
#include "core/safetensors.hpp"
#include "support.hpp"

using namespace repro;

namespace {
constexpr int64_t kSep = 1, kSepKv = 2, kMask = 3, kFirst = 4;

// Defaults of the plugin, overridden by `over`.
sdk::Params mqar(std::map<std::string, sdk::Value> over) {
  return test::with_defaults(test::plugins().task("mqar")->params(), over);
}
sdk::Dataset gen(const sdk::Params& p, sdk::Split s, uint64_t seed, int64_t n) {
  auto task = test::plugins().task("mqar");
  task->check(p);
  return task->generate(p, s, seed, n);
}
using L = std::vector<int64_t>;

using test::bytes_hash;

// Every variant the paper uses, by its paper name, at small sizes.
const std::vector<std::pair<std::string, std::map<std::string, sdk::Value>>>& variants() {
  static const std::vector<std::pair<std::string, std::map<std::string, sdk::Value>>> v = {
      {"standard", {{"seq_len", L{64}}, {"num_kv_pairs", L{2, 8}}}},
      {"last", {{"seq_len", L{64}}, {"num_kv_pairs", L{2, 8}}, {"position", std::string("last")}}},
      {"shuffle", {{"seq_len", L{64}}, {"num_kv_pairs", L{2, 8}}, {"position", std::string("shuffle")}}},
      {"K1V1", {{"seq_len", L{64}}, {"num_kv_pairs", L{2, 4}}, {"format", std::string("sep")}}},
      {"K1V2", {{"seq_len", L{64}}, {"num_kv_pairs", L{2, 4}}, {"format", std::string("sep")}, {"value_len", int64_t{2}}}},
      {"K2V2", {{"seq_len", L{64}}, {"num_kv_pairs", L{2, 4}}, {"format", std::string("sep")}, {"key_len", int64_t{2}},
                {"value_len", int64_t{2}}}},
      {"K4V8-shuffle", {{"seq_len", L{128}}, {"num_kv_pairs", L{2, 4}}, {"format", std::string("sep")},
                        {"key_len", int64_t{4}}, {"value_len", int64_t{8}}, {"position", std::string("shuffle")}}},
      {"K1V1*", {{"seq_len", L{128}}, {"num_kv_pairs", L{2, 4}}, {"noise", std::string("regions")}}},
      {"K2V2*", {{"seq_len", L{64}}, {"num_kv_pairs", L{1, 4}}, {"format", std::string("sep")}, {"key_len", int64_t{2}},
                 {"value_len", int64_t{2}}, {"noise", std::string("shared_suffix")}, {"power_a", 1.0}}},
      {"mixed-lengths", {{"seq_len", L{64, 128}}, {"num_kv_pairs", L{4, 16, 32}}, {"unfit", std::string("skip")}}},
      {"zero-filler", {{"seq_len", L{32}}, {"num_kv_pairs", L{2}}, {"filler", std::string("zero")}}},
  };
  return v;
}
}  // namespace

TEST(Mqar, GoldenHashPerVariant) {
  // Fixed seed -> fixed bytes on every machine (the GPU host runs this too). If a value changes on
  // purpose, bump the task's version() so cached datasets are regenerated.
  const std::map<std::string, std::string> golden = {
#include "data/mqar_golden.inc"
  };
  for (const auto& [name, over] : variants()) {
    auto a = gen(mqar(over), sdk::Split::Train, 1234, 20);
    EXPECT_EQ(bytes_hash(a), bytes_hash(gen(mqar(over), sdk::Split::Train, 1234, 20))) << name << " not deterministic";
    EXPECT_NE(bytes_hash(a), bytes_hash(gen(mqar(over), sdk::Split::Train, 1235, 20))) << name << " ignores the seed";
    EXPECT_TRUE(golden.count(name)) << "no golden hash; add to tests/data/mqar_golden.inc: {\"" << name << "\", \"" << bytes_hash(a) << "\"},";
    if (golden.count(name)) EXPECT_EQ(bytes_hash(a), golden.at(name)) << name;
  }
}

// Layout invariants, checked from the raw tensors for every variant and split.
TEST(Mqar, InvariantsOfEveryVariant) {
  for (const auto& [name, over] : variants()) {
    for (auto split : {sdk::Split::Train, sdk::Split::Test}) {
      SCOPED_TRACE(name + " " + sdk::split_name(split));
      const auto p = mqar(over);
      const int64_t V = p.i("vocab_size"), kl = p.i("key_len"), vl = p.i("value_len");
      const bool sep = p.s("format") == "sep", zero = p.s("filler") == "zero";
      const std::string pos = p.s("position"), noise = p.s("noise");
      const int64_t P = sep ? 3 + kl + vl : 2, value_lo = kFirst + (V - kFirst) / 2;
      auto d = gen(p, split, 99, 30);
      check_dataset(d, V, name);
      const int64_t N = d.inputs.size(0), W = d.inputs.size(1);
      ASSERT_EQ(N, 30 * static_cast<int64_t>(d.subset_names.size()));
      auto in = d.inputs.accessor<int64_t, 2>(), tg = d.targets.accessor<int64_t, 2>(), ag = d.answer_group.accessor<int64_t, 2>();
      auto lm = d.loss_mask.accessor<bool, 2>();
      auto role = d.meta.at("role").accessor<uint8_t, 2>();
      auto kp = d.meta.at("key_pos").accessor<int64_t, 2>(), vp = d.meta.at("value_pos").accessor<int64_t, 2>(),
           qp = d.meta.at("query_pos").accessor<int64_t, 2>();
      auto len = d.meta.at("length").accessor<int64_t, 1>();
      for (int64_t e = 0; e < N; ++e) {
        const std::string sub = d.subset_names[d.subset[e].item<int64_t>()];
        const int64_t Le = std::stoll(sub.substr(1, sub.find('-') - 1)), n = std::stoll(sub.substr(sub.find("-n") + 2));
        ASSERT_EQ(len[e], Le) << "exact sequence length";
        for (int64_t t = Le; t < W; ++t) ASSERT_TRUE(in[e][t] == 0 && role[e][t] == sdk::kPad && tg[e][t] == sdk::kIgnore);
        const int64_t C = noise == "regions" || pos != "standard" ? Le / 2 : n * P;
        std::set<std::vector<int64_t>> keys;
        int64_t scored = 0, supervised = 0;
        for (int64_t j = 0; j < n; ++j) {
          const int64_t k0 = kp[e][j], v0 = vp[e][j], q0 = qp[e][j];
          std::vector<int64_t> key(in[e].data() + k0, in[e].data() + k0 + kl);
          keys.insert(key);
          for (int64_t t = 0; t < kl; ++t) {
            ASSERT_EQ(in[e][q0 + t], key[t]) << "the query repeats its key";
            ASSERT_TRUE(key[t] >= kFirst && key[t] < value_lo) << "key token range";
            ASSERT_EQ(role[e][k0 + t], sdk::kKey);
            ASSERT_EQ(role[e][q0 + t], sdk::kQuery);
          }
          for (int64_t t = 0; t < vl; ++t) {
            const int64_t at = q0 + kl - 1 + (sep ? 1 : 0) + t;  // the answer is due one position early
            ASSERT_TRUE(in[e][v0 + t] >= value_lo && in[e][v0 + t] < V) << "value token range";
            ASSERT_EQ(tg[e][at], in[e][v0 + t]) << "target = the paired value token";
            ASSERT_EQ(ag[e][at], j);
            ASSERT_TRUE(lm[e][at]);
            if (sep) ASSERT_EQ(in[e][at + 1], kMask) << "hidden value slots are masked";
            else ASSERT_NE(in[e][at + 1], in[e][v0 + t]) << "the value is not visible after its query";
          }
          scored += vl;
          ASSERT_GE(q0 - (sep ? 1 : 0), C) << "queries follow the context";
          ASSERT_EQ((q0 - (sep ? 1 : 0) - C) % P, 0) << "queries sit at aligned block slots";
          const int64_t blk = k0 - (sep ? 1 : 0);
          if (sep) {
            ASSERT_EQ(in[e][blk], kSep);
            ASSERT_EQ(in[e][k0 + kl], kSepKv);
            ASSERT_EQ(in[e][v0 + vl], kSep);
            ASSERT_EQ(in[e][q0 - 1], kSep);
            ASSERT_EQ(in[e][q0 + kl], kSepKv);
            ASSERT_EQ(in[e][q0 + kl + vl + 1], kSep);
            if (split == sdk::Split::Train && p.b("sep_loss")) {
              ASSERT_EQ(tg[e][q0 + kl + vl], kSep) << "closing <SEP> supervised in training";
              ASSERT_TRUE(lm[e][q0 + kl + vl]);
              ASSERT_EQ(ag[e][q0 + kl + vl], -1) << "but not scored";
              ++supervised;
            }
          }
          if (noise == "regions") {
            ASSERT_EQ(blk, j * P) << "region 0 starts with the pairs";
            const int64_t B = (Le / 2) / p.i("regions");
            auto acc = d.meta.at("accept");
            std::set<int64_t> vals;
            for (int64_t r = 0; r < p.i("regions"); ++r) {
              ASSERT_EQ(in[e][r * B + j * P], key[0]) << "every region repeats the key";
              const int64_t v = in[e][r * B + j * P + 1];
              ASSERT_EQ(acc[e][q0][r].item<int64_t>(), v) << "each region's value is accepted";
              vals.insert(v);
            }
            ASSERT_EQ(static_cast<int64_t>(vals.size()), p.i("regions")) << "regions have different values";
          } else if (pos == "standard") {
            ASSERT_EQ(blk, j * P) << "standard: pairs packed from position 0";
          } else if (pos == "last") {
            ASSERT_EQ(blk, Le / 2 - n * P + j * P) << "last: pairs end at the middle";
          } else {
            ASSERT_TRUE(blk % P == 0 && blk + P <= Le / 2) << "shuffle: aligned blocks in the first half";
          }
        }
        ASSERT_EQ(static_cast<int64_t>(keys.size()), n) << "keys are distinct";
        if (noise == "shared_suffix") {
          std::set<int64_t> firsts, suffixes;
          for (const auto& k : keys) firsts.insert(k[0]), suffixes.insert(k.back());
          ASSERT_EQ(static_cast<int64_t>(firsts.size()), n);
          ASSERT_EQ(suffixes.size(), 1u) << "all keys share their last token";
        }
        int64_t mask_count = 0, group_count = 0;
        for (int64_t t = 0; t < Le; ++t) {
          mask_count += lm[e][t];
          group_count += ag[e][t] >= 0;
          if (role[e][t] == sdk::kFiller) {
            if (zero) ASSERT_EQ(in[e][t], 0);
            else ASSERT_TRUE(in[e][t] >= kFirst && in[e][t] < V) << "random filler avoids reserved ids";
          }
        }
        ASSERT_EQ(group_count, scored);
        ASSERT_EQ(mask_count, scored + supervised);
      }
    }
  }
}

TEST(Mqar, TrainValidTestNeverShareAnExample) {
  // A space of only 10 keys x 10 values x 3 query slots: independent draws would collide often.
  auto p = mqar({{"vocab_size", int64_t{24}}, {"seq_len", L{8}}, {"num_kv_pairs", L{1}}, {"filler", std::string("zero")}});
  auto rows = [](const sdk::Dataset& d) {
    std::set<std::vector<int64_t>> s;
    for (int64_t e = 0; e < d.inputs.size(0); ++e) {
      auto r = torch::cat({d.inputs[e], d.targets[e]}).contiguous();
      s.insert(std::vector<int64_t>(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel()));
    }
    return s;
  };
  auto train = rows(gen(p, sdk::Split::Train, 5, 400)), valid = rows(gen(p, sdk::Split::Valid, 5, 10)),
       test = rows(gen(p, sdk::Split::Test, 5, 10));
  EXPECT_GT(train.size(), 100u);
  for (const auto& r : test) EXPECT_FALSE(train.count(r) || valid.count(r));
  for (const auto& r : valid) EXPECT_FALSE(train.count(r));
}

TEST(Mqar, MixedLengthsKeepOnlyWhatFitsWhenAskedTo) {
  auto d = gen(mqar({{"seq_len", L{64, 128}}, {"num_kv_pairs", L{4, 16, 32}}, {"unfit", std::string("skip")}}),
               sdk::Split::Valid, 1, 5);
  EXPECT_EQ(d.subset_names, (std::vector<std::string>{"L64-n4", "L64-n16", "L128-n4", "L128-n16", "L128-n32"}));
  EXPECT_EQ(d.inputs.size(1), 128);
  EXPECT_EQ(d.inputs.size(0), 25);
}

TEST(Mqar, BadParametersNameTheParameter) {
  auto task = test::plugins().task("mqar");
  auto refuses = [&](std::map<std::string, sdk::Value> over, const std::string& param, const std::string& words) {
    try {
      task->check(mqar(over));
      ADD_FAILURE() << "accepted: expected an error about " << param << " saying " << words;
    } catch (const sdk::ParamError& e) {
      EXPECT_EQ(e.param, param) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  refuses({{"seq_len", L{64}}, {"num_kv_pairs", L{17}}}, "num_kv_pairs", "length 64, 17 pairs");
  refuses({{"seq_len", L{64}}, {"num_kv_pairs", L{17}}}, "num_kv_pairs", "unfit = \"skip\"");
  refuses({{"seq_len", L{64}}, {"num_kv_pairs", L{5}}, {"format", std::string("sep")}, {"key_len", int64_t{2}},
           {"value_len", int64_t{2}}, {"position", std::string("last")}}, "num_kv_pairs", "first half");
  refuses({{"seq_len", L{64}}, {"num_kv_pairs", L{32}}, {"unfit", std::string("skip")}}, "num_kv_pairs", "no (seq_len");
  refuses({{"seq_len", L{63}}, {"num_kv_pairs", L{2}}}, "num_kv_pairs", "even");
  refuses({{"key_len", int64_t{2}}}, "key_len", "format = \"sep\"");
  refuses({{"format", std::string("sep")}, {"noise", std::string("shared_suffix")}}, "key_len", "at least 2");
  refuses({{"noise", std::string("regions")}, {"position", std::string("last")}}, "position", "own layout");
  refuses({{"seq_len", L{64}}, {"num_kv_pairs", L{5}}, {"noise", std::string("regions")}}, "num_kv_pairs", "regions of 8");
  refuses({{"vocab_size", int64_t{12}}, {"seq_len", L{64}}, {"num_kv_pairs", L{8}}}, "num_kv_pairs", "distinct keys");
}

TEST(Mqar, TooSmallAnExampleSpaceIsAnErrorNotAHang) {
  // 2-5 keys x 2-5 values x 1 query slot: a handful of distinct examples, so the test bucket (1/16 of
  // the example space) is empty for some vocabularies. Generation must then stop with an error.
  int errors = 0;
  for (int64_t V = 8; V <= 14; V += 2) {
    auto p = mqar({{"vocab_size", V}, {"seq_len", L{4}}, {"num_kv_pairs", L{1}}, {"filler", std::string("zero")}});
    try {
      gen(p, sdk::Split::Test, 1, 5);
    } catch (const sdk::ParamError& e) {
      EXPECT_NE(std::string(e.what()).find("too few distinct examples"), std::string::npos) << e.what();
      ++errors;
    }
  }
  EXPECT_GT(errors, 0);
}

TEST(Mqar, QueryGapsFollowThePowerLaw) {
  auto d = gen(mqar({{"seq_len", L{64}}, {"num_kv_pairs", L{4}}}), sdk::Split::Train, 3, 2000);
  auto qp = d.meta.at("query_pos");
  auto first = (qp == 8).sum().item<int64_t>(), tenth = (qp == 8 + 2 * 10).sum().item<int64_t>();
  EXPECT_GT(first, 3 * tenth);  // a = 0.01: the slot right after the pairs is by far the most used
  auto u = gen(mqar({{"seq_len", L{64}}, {"num_kv_pairs", L{4}}, {"power_a", 1.0}}), sdk::Split::Train, 3, 2000);
  auto uq = u.meta.at("query_pos");
  auto ufirst = (uq == 8).sum().item<double>(), utenth = (uq == 28).sum().item<double>();
  EXPECT_NEAR(ufirst / utenth, 1.0, 0.35);  // a = 1: uniform
}

TEST(Mqar, DatasetRoundTripsThroughTheArtifactFile) {
  test::TempDir dir;
  auto d = gen(mqar({{"noise", std::string("regions")}, {"seq_len", L{128}}, {"num_kv_pairs", L{2}}}), sdk::Split::Valid, 3, 20);
  save_dataset(dir.path(), d);
  auto e = load_dataset(dir.path());
  EXPECT_EQ(bytes_hash(d), bytes_hash(e));
  EXPECT_EQ(e.subset_names, d.subset_names);
  EXPECT_EQ(e.inputs.scalar_type(), torch::kInt64);
  // Token ids < 2^15 are stored as int16 (4x smaller files at the paper's sizes), widened on load.
  auto raw = load_safetensors(dir.path() / kDatasetFile);
  EXPECT_EQ(raw.at("inputs").scalar_type(), torch::kInt16);
  EXPECT_EQ(raw.at("meta.accept").scalar_type(), torch::kInt16);
}
