#include "spec.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "fs.hpp"
#include "hash.hpp"
#include "params.hpp"
#include "plugins.hpp"
#include "toml_reader.hpp"

namespace repro {
namespace {

constexpr int64_t kBig = std::numeric_limits<int32_t>::max();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Reads [train] keys into `t`, starting from `base` (the experiment's values for per-model overrides).
TrainSpec read_train(const TomlReader& r, TrainSpec t, const std::map<std::string, DatasetSpec>& datasets) {
  t.epochs = r.integer("epochs", t.epochs, 1, 100000);
  t.batch_size = r.integer("batch_size", t.batch_size, 1, 1 << 20);
  t.lr = r.number("lr", t.lr, 0, 10);
  t.weight_decay = r.number("weight_decay", t.weight_decay, 0, 10);
  t.warmup_fraction = r.number("warmup_fraction", t.warmup_fraction, 0, 1);
  t.min_lr_fraction = r.number("min_lr_fraction", t.min_lr_fraction, 0, 1);
  t.beta1 = r.number("beta1", t.beta1, 0, 0.999999);
  t.beta2 = r.number("beta2", t.beta2, 0, 0.999999);
  t.grad_clip = r.number("grad_clip", t.grad_clip, 0, kInf);
  t.schedule = r.choice("schedule", t.schedule, {"cosine", "linear", "constant"});
  t.clip = r.choice("clip", t.clip, {"norm", "value", "none"});
  t.device = r.choice("device", t.device, {"auto", "cpu", "cuda"});
  t.precision = r.choice("precision", t.precision, {"bf16", "fp32"});
  t.select = r.choice("select", t.select, {"last", "best_valid_loss"});
  t.shuffle = r.boolean("shuffle", t.shuffle);
  t.score_train = r.boolean("score_train", t.score_train);
  t.checkpoint_every = r.integer("checkpoint_every", t.checkpoint_every, 1, kBig);
  t.log_every = r.integer("log_every", t.log_every, 1, kBig);
  if (r.has("track")) {
    t.track = r.strings("track");
    std::vector<std::string> testable;
    for (const auto& [id, d] : datasets)
      if (d.test_examples > 0) testable.push_back(id);
    check_ids(r, "track", t.track, testable, "dataset with test_examples > 0");
  }
  r.finish();
  return t;
}

// The plugin named at r[name_key] (looked up by `find`) validates the table r[params_key] (absent: all
// defaults): declared types and bounds, then its cross-parameter check, each error pointing at its key.
template <class Find>
sdk::Params plugin_params(const TomlReader& r, const std::string& name_key, const std::string& params_key, Find find) {
  auto plugin = [&] {
    try {
      return find();
    } catch (const UserError& e) {
      r.fail(name_key, e.what());
    }
  }();
  const toml::table empty;
  auto sub = r.sub_opt(params_key);
  const TomlReader pr = sub ? *sub : TomlReader(empty, r.file(), r.dotted(params_key));
  sdk::Params params = pr.plugin_params(plugin->params());
  try {
    plugin->check(params);
  } catch (const sdk::ParamError& e) {
    pr.fail(e.param, e.what());
  }
  return params;
}

// Merges `from` over `into`: tables key by key, any other value replaced (with its own source position).
// Values are moved, not copied: a TOML++ copy drops the source position, and an error in a scale's value would
// lose its file:line:col (found by tests/fuzz/spec_fuzz).
void merge(toml::table& into, toml::table& from) {
  for (auto&& [k, v] : from) {
    toml::node* mine = into.get(k);
    if (mine && mine->is_table() && v.is_table()) merge(*mine->as_table(), *v.as_table());
    else v.visit([&, key = k](auto& x) { into.insert_or_assign(key, std::move(x)); });
  }
}

// Applies [scales.<scale>] to `root` and drops [scales]; returns the scale's name when it is not the default, and
// sets `others` to the scales other than the default.
std::string apply_scale(toml::table& root, const std::string& path, const std::string& scale,
                        std::vector<std::string>& others) {
  if (!root.contains("scales")) {
    if (!scale.empty()) throw UserError(path + ": --scale " + scale + ": the spec has no [scales] section");
    return "";
  }
  toml::table* section = root["scales"].as_table();
  if (!section)  // e.g. `scales = [...]` (found by tests/fuzz/spec_fuzz: it was dereferenced as a table)
    TomlReader(root, path, "").fail("scales", "expected a table: [scales] with default = \"...\" and [scales.<name>]");
  toml::table scales = std::move(*section);  // moved: a copy would drop the positions
  root.erase("scales");
  TomlReader r(scales, path, "scales");
  const std::string dflt = r.str("default", "");
  std::vector<std::string> names;
  for (const auto& k : r.keys())
    if (k != "default") names.push_back(k);
  for (const auto& n : names)
    if (n != dflt) others.push_back(n);
  const std::string want = scale.empty() ? dflt : scale;
  if (want.empty() || (want == dflt && !scales.contains(want))) return "";
  if (std::find(names.begin(), names.end(), want) == names.end()) {
    std::string hint = closest(want, names);
    throw UserError(fmt::format("{}: --scale {}: no [scales.{}] (the spec's scales: {}{}){}", path, want, want,
                                fmt::join(names, ", "), dflt.empty() ? "" : ", default " + dflt,
                                hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  }
  toml::table* t = scales[want].as_table();
  if (!t) r.fail(want, "expected a table of the values this scale changes");
  merge(root, *t);
  return want == dflt ? "" : want;
}

}  // namespace

void check_ids(const TomlReader& g, const std::string& key, const std::vector<std::string>& ids,
               const std::vector<std::string>& known, const char* what) {
  for (const auto& id : ids) {
    if (std::find(known.begin(), known.end(), id) != known.end()) continue;
    std::string hint = closest(id, known);
    g.fail(key, fmt::format("no {} named '{}'{}", what, id, hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  }
}

const std::vector<std::string>& grid_ids(const Spec& s, const std::string& dim) {
  return dim == "train" ? s.grid.train : dim == "test" ? s.grid.test : s.grid.models;
}

std::string InterventionSpec::key() const {
  std::vector<int> roles(block_roles.begin(), block_roles.end());
  return fmt::format("interventions:test={};block={};twin_role={};twin_tokens={};n={}", test, fmt::join(roles, ","),
                     static_cast<int>(twin_role), fmt::join(twin_tokens, ","), examples_per_subset) +
         (control ? ";control" : "");  // specs without it keep their keys
}

std::string ProbeSpec::key() const {
  // Specs that only set mixing_examples keep the result keys they had before layers/matrices existed, and specs
  // without interventions the keys they had before those.
  const std::string iv = interventions ? ";" + interventions->key() : "";
  bool first_k = layers.empty() && matrices == std::vector<std::string>{"mixing"};
  for (size_t i = 0; i < examples.size(); ++i) first_k = first_k && examples[i] == static_cast<int64_t>(i);
  if (first_k) return std::to_string(examples.size()) + iv;
  return fmt::format("examples={};layers={};matrices={}", fmt::join(examples, ","), fmt::join(layers, ","),
                     fmt::join(matrices, ",")) + iv;
}

namespace {
// [probe.interventions]: names a grid test set and roles of the SDK's Role enum.
InterventionSpec read_interventions(const TomlReader& r, const Spec& spec, const PluginRegistry& plugins) {
  const auto role = [&](const std::string& key, const std::string& name) {
    const auto* names = std::begin(sdk::kRoleNames);
    const auto* it = std::find(names, std::end(sdk::kRoleNames), name);
    if (it == std::end(sdk::kRoleNames))
      r.fail(key, fmt::format("\"{}\" is not a role (expected one of {})", name, fmt::join(sdk::kRoleNames, ", ")));
    return static_cast<uint8_t>(it - names);
  };
  InterventionSpec iv;
  iv.test = r.str("test");
  check_ids(r, "test", {iv.test}, spec.grid.test, "grid test set");
  const DatasetSpec& ds = spec.datasets.at(iv.test);
  const int64_t vocab = plugins.task(ds.task)->vocab_size(ds.params);
  for (const auto& name : r.strings("block_roles")) iv.block_roles.push_back(role("block_roles", name));
  iv.twin_role = role("twin_role", r.str("twin_role"));
  iv.twin_tokens = r.integers("twin_tokens", {});
  if (iv.twin_tokens.empty()) r.fail("twin_tokens", "expected the twin's tokens, one per twin_role position");
  for (auto t : iv.twin_tokens)
    if (t < 0 || t >= vocab)
      r.fail("twin_tokens", fmt::format("token {} is outside the vocabulary of test set '{}' (0..{})", t, iv.test, vocab - 1));
  iv.examples_per_subset = r.integer("examples_per_subset", iv.examples_per_subset, 1, 1 << 20);
  iv.control = r.boolean("control", false);
  r.finish();
  return iv;
}
}  // namespace

Spec load_spec(const std::string& path, const PluginRegistry& plugins, const std::string& scale) {
  toml::table root = parse_toml_file(path);
  Spec s;
  const std::string scaled = apply_scale(root, path, scale, s.other_scales);
  TomlReader top(root, path, "");
  s.path = path;
  s.hash = sha1_hex(read_file(path));

  auto ex = top.sub("experiment");
  s.name = ex.str("name");
  if (s.name.empty() || s.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") != std::string::npos)
    ex.fail("name", "expected a non-empty name of [a-z0-9-_] (it names reports/<name>.md and results/<name>/)");
  s.title = ex.str("title", s.name);
  if (!scaled.empty()) {
    s.name += "-" + scaled;
    s.title += " — scale " + scaled;
  }
  s.description = ex.str("description", "");
  s.methods = ex.str("methods", "");
  ex.finish();

  auto ds = top.sub("datasets");
  for (const auto& id : ds.keys()) {
    auto d = ds.sub(id);
    DatasetSpec out;
    out.id = id;
    out.loc = d.where();
    out.task = d.str("task");
    out.params = plugin_params(d, "task", "params", [&] { return plugins.task(out.task); });
    out.unkeyed = unkeyed_params(out.params, plugins.task(out.task)->params());
    out.label = d.cell_text("label", id);
    out.train_examples = d.integer("train_examples", 0, 0, kBig);
    out.valid_examples = d.integer("valid_examples", 0, 0, kBig);
    out.test_examples = d.integer("test_examples", 0, 0, kBig);
    out.seed = static_cast<uint64_t>(d.integer("seed", 0, 0, std::numeric_limits<int64_t>::max()));
    d.finish();
    s.datasets[id] = out;
  }

  s.train = top.sub_opt("train") ? read_train(top.sub("train"), TrainSpec{}, s.datasets) : TrainSpec{};

  auto ms = top.sub("models");
  for (const auto& id : ms.keys()) {
    auto m = ms.sub(id);
    ModelSpec out;
    out.id = id;
    out.loc = m.where();
    out.architecture = m.str("architecture");
    out.config = plugin_params(m, "architecture", "config", [&] { return plugins.architecture(out.architecture); });
    out.unkeyed = unkeyed_params(out.config, plugins.architecture(out.architecture)->params());
    out.label = m.cell_text("label", id);
    out.train = m.sub_opt("train") ? read_train(m.sub("train"), s.train, s.datasets) : s.train;
    m.finish();
    s.models[id] = out;
  }

  auto g = top.sub("grid");
  std::vector<std::string> dataset_ids, model_ids;
  for (const auto& [k, _] : s.datasets) dataset_ids.push_back(k);
  for (const auto& [k, _] : s.models) model_ids.push_back(k);
  s.grid.train = g.strings("train");
  s.grid.test = g.strings("test");
  s.grid.models = g.strings("models");
  s.grid.seeds = g.integers("seeds", {0});
  s.grid.lrs = g.numbers("lrs", 0, 10);
  std::set<double> lrs_seen;
  for (double lr : s.grid.lrs)
    if (!lrs_seen.insert(lr).second) g.fail("lrs", fmt::format("{} is listed twice", lr));
  check_ids(g, "train", s.grid.train, dataset_ids, "dataset");
  check_ids(g, "test", s.grid.test, dataset_ids, "dataset");
  check_ids(g, "models", s.grid.models, model_ids, "model");
  for (const auto& id : s.grid.train)
    if (s.datasets[id].train_examples <= 0)
      g.fail("train", fmt::format("dataset '{}' is trained on but has train_examples = 0 ({})", id,
                                  s.datasets[id].loc.str()));
  for (const auto& id : s.grid.train)
    if (!s.grid.lrs.empty() && s.datasets[id].valid_examples <= 0)
      g.fail("lrs", fmt::format("an lr sweep picks the lr by validation loss, but dataset '{}' has valid_examples = 0 ({})",
                                id, s.datasets[id].loc.str()));
  for (const auto& id : s.grid.test)
    if (s.datasets[id].test_examples <= 0)
      g.fail("test", fmt::format("dataset '{}' is tested on but has test_examples = 0 ({})", id, s.datasets[id].loc.str()));
  g.finish();

  if (auto p = top.sub_opt("probe")) {
    s.probe.mixing_examples = p->integer("mixing_examples", 0, 0, 64);
    s.probe.examples = p->integers("examples", {});
    for (auto e : s.probe.examples)
      if (e < 0) p->fail("examples", "expected test example indices >= 0");
    s.probe.layers = p->integers("layers", {});
    for (auto l : s.probe.layers)
      if (l < 0) p->fail("layers", "expected layer indices >= 0");
    if (p->has("matrices")) {
      s.probe.matrices = p->strings("matrices");
      for (const auto& m : s.probe.matrices)
        if (m != "mixing" && m != "info_flow")
          p->fail("matrices", fmt::format("expected \"mixing\" or \"info_flow\", got \"{}\"", m));
    }
    s.probe.batch_size = p->integer("batch_size", s.probe.batch_size, 1, 1 << 20);
    if (auto iv = p->sub_opt("interventions")) s.probe.interventions = read_interventions(*iv, s, plugins);
    p->finish();
    if (s.probe.examples.empty())
      for (int64_t i = 0; i < s.probe.mixing_examples; ++i) s.probe.examples.push_back(i);
  }

  if (auto rep = top.sub_opt("report")) s.report = read_report(*rep, s);
  top.finish();
  return s;
}

}  // namespace repro
