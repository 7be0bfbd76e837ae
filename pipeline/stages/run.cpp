#include "run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "../core/cuda_stream.hpp"
#include "../core/error.hpp"
#include "../core/glob.hpp"
#include "../core/log.hpp"
#include "../core/plugins.hpp"
#include "../core/provenance.hpp"
#include "../core/store.hpp"
#include "../core/threads.hpp"
#include "batches.hpp"
#include "generate.hpp"
#include "probe.hpp"
#include "report.hpp"
#include "ranks.hpp"
#include "results.hpp"
#include "step_time.hpp"
#include "sweep.hpp"
#include "train.hpp"

namespace repro {
namespace fs = std::filesystem;
using json = nlohmann::json;

fs::path results_dir(const Spec& spec, const RunOptions& opts) { return opts.results_root / spec.name; }

namespace {

// Per-epoch validation lines and every logged training point, for figures.
json read_curve(const fs::path& model_dir) {
  json curve = json::array();
  std::ifstream in(model_dir / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) curve.push_back(json::parse(line));
  return curve;
}

}  // namespace

bool result_current(const Spec& spec, const Cell& cell, const RunOptions& opts, const Store& store) {
  const auto r = read_result(results_dir(spec, opts), cell.id, cell.result_key);
  return r && (!r->contains("not_run_tests") || !store.find("model", cell.model_key));
}

void run_cell(const Spec& spec, const PluginRegistry& plugins, const Store& store, const Cell& cell,
              const RunOptions& opts, DataParallel* data_parallel) {
  const auto t0 = std::chrono::steady_clock::now();
  auto train_dir = ensure_split(store, plugins, spec, cell.train);
  fs::path valid_dir = cell.valid.examples > 0 ? ensure_split(store, plugins, spec, cell.valid) : fs::path();
  std::vector<fs::path> test_dirs;  // empty path: a test whose input is missing (sdk::MissingInput), not run
  json not_run = json::object();
  for (const auto& t : cell.tests) {
    try {
      test_dirs.push_back(ensure_split(store, plugins, spec, t));
    } catch (const sdk::MissingInput& e) {
      log::warn("{}: test '{}' not run: {}", cell.id, t.dataset, e.what());
      not_run[t.dataset] = e.what();
      test_dirs.emplace_back();
    }
  }
  std::vector<std::pair<std::string, fs::path>> tracked;
  for (const auto& id : cell.settings.track)
    tracked.emplace_back(id, ensure_split(store, plugins, spec, split_ref(spec, plugins, id, sdk::Split::Test)));
  if (opts.until == Until::Generate) return;

  const torch::Device device = resolve_device(opts.device.value_or(cell.settings.device));
  const CellStream stream(device);
  if (opts.force && (!data_parallel || data_parallel->leader())) {
    if (auto d = store.find("model", cell.model_key)) fs::remove_all(*d);
  }
  auto model_dir = train_cell({spec, cell, plugins, store, train_dir, valid_dir, device, data_parallel, tracked});
  if (opts.until == Until::Train || (data_parallel && !data_parallel->leader())) return;
  // Another process on this store may be publishing this cell: the first probes it, the others find its result.
  auto lock = store.lock("result", cell.result_key);
  if (!opts.force && result_current(spec, cell, opts, store)) return;

  auto t1 = std::chrono::steady_clock::now();
  ProbeOutput probed = probe_cell({spec, cell, plugins, store, model_dir, test_dirs, device});
  json& result = probed.result;
  const json training = store.meta(model_dir);
  if (!not_run.empty()) result["not_run_tests"] = not_run;
  result["cell"] = cell.id;
  result["result_key"] = cell.result_key;
  result["model_key"] = cell.model_key;
  result["train_dataset"] = cell.train_dataset;
  result["model"] = cell.model;
  const ModelSpec& ms = spec.models.at(cell.model);
  result["model_label"] = ms.label;
  result["architecture"] = ms.architecture;
  result["seed"] = cell.seed;
  if (cell.lr) result["lr"] = *cell.lr;
  result["training"] = training;
  result["curve"] = read_curve(model_dir);
  result["provenance"] = {
      {"git", git_revision()},
      {"spec", spec.path},
      {"spec_sha1", spec.hash},
      {"seed", cell.seed},
      {"device", training.value("device", device_description(device))},
      {"probe_device", device_description(device)},
      {"versions", library_versions()},
      {"train_seconds", training.value("wall_seconds_total", training.value("wall_seconds", 0.0))},
      {"probe_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count()},
      {"cell_seconds_this_run", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()},
      {"finished_at", utc_now()}};
  write_result(results_dir(spec, opts), cell.id, result, probed.matrices);
}

namespace {

bool selected(const Cell& c, const RunOptions& opts) {
  return (opts.only.empty() || matches_any(opts.only, c.id)) && (opts.cell.empty() || c.id == opts.cell);
}

// "N <current>, M to run", and with --only/--cell how many cells they leave out: those are neither current nor
// to run (counting them as current hid, in a dry run, the cells still missing outside the selection).
std::string cell_counts(const std::vector<Cell>& cells, const std::vector<const Cell*>& stale, const RunOptions& opts,
                        const char* current) {
  const auto chosen = static_cast<size_t>(std::count_if(cells.begin(), cells.end(), [&](const Cell& c) { return selected(c, opts); }));
  std::string s = fmt::format("{} {}, ", chosen - stale.size(), current);
  if (chosen < cells.size()) s += fmt::format("{} not selected, ", cells.size() - chosen);
  return s + fmt::format("{} to run", stale.size());
}

// What one epoch of a training split costs at a batch size: tokens, optimizer steps, the batch train.cpp uses
// (capped at the split's size) and the longest example.
struct EpochCost {
  double tokens = 0, steps = 0;
  int64_t batch = 0, max_length = 0;
};

// What the spec's committed (current) cells took to train, by model: the best predictor of its remaining cells when
// the FLOP and step rates do not fit (tiny models, whose steps cost kernel launches).
struct CommittedTimes {
  std::map<std::string, double> median_seconds;  // model id -> median train_seconds of its committed cells
  std::string devices;                           // the devices they ran on, e.g. "cuda:0 (NVIDIA H200)"
};

CommittedTimes committed_times(const Spec& spec, const std::vector<Cell>& cells, const RunOptions& opts) {
  std::map<std::string, std::vector<double>> by_model;
  std::set<std::string> devices;
  for (const auto& c : cells) {
    const auto r = read_result(results_dir(spec, opts), c.id, c.result_key);
    if (!r || !r->contains("provenance")) continue;
    const auto& p = r->at("provenance");
    if (p.value("train_seconds", 0.0) <= 0) continue;
    by_model[c.model].push_back(p.value("train_seconds", 0.0));
    devices.insert(p.value("device", std::string("?")));
  }
  CommittedTimes t;
  for (auto& [model, v] : by_model) {
    std::sort(v.begin(), v.end());
    t.median_seconds[model] = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }
  for (const auto& d : devices) t.devices += (t.devices.empty() ? "" : ", ") + d;
  return t;
}

void dry_run(const Spec& spec, const PluginRegistry& plugins, const Store& store, const std::vector<Cell>& cells,
             const std::vector<const Cell*>& stale, const RunOptions& opts) {
  double total_flops = 0, total_steps = 0, measured_s = 0;
  const CommittedTimes committed = committed_times(spec, cells, opts);
  double history_s = 0;
  int history_cells = 0, untrained = 0;
  // An lr sweep's or several models' cells share one split: by (split key, batch size).
  std::map<std::pair<std::string, int64_t>, EpochCost> epoch_cost;
  // --measure: seconds per step by (model, batch, length, settings), timed once on the device.
  std::map<std::string, double> step_seconds;
  const std::optional<torch::Device> device =
      opts.measure ? std::optional(resolve_device(opts.device.value_or("auto"))) : std::nullopt;
  fmt::print("{} cells in {}: {}\n", cells.size(), spec.path, cell_counts(cells, stale, opts, "fresh"));
  for (const Cell* c : stale) {
    const ModelSpec& m = spec.models.at(c->model);
    const auto shape = model_shape(spec, plugins, *c);
    auto model = build_seeded_model(plugins, m, shape, c->seed);
    const double params = static_cast<double>(parameter_count(*model));
    // Real token and step counts: generation is cheap (well under a second per paper-size split), and only it
    // knows how many subsets and lengths the parameters expand to. Nothing is written.
    const auto key = std::pair{c->train.key, c->settings.batch_size};
    if (!epoch_cost.count(key)) {
      const auto& d = spec.datasets.at(c->train_dataset);
      const auto data = plugins.task(d.task)->generate(d.params, sdk::Split::Train, c->train.seed, c->train.examples);
      EpochCost e;
      for (auto l : example_lengths(data)) e.tokens += static_cast<double>(l), e.max_length = std::max(e.max_length, l);
      e.batch = std::min(c->settings.batch_size, data.inputs.size(0));  // as train.cpp batches
      e.steps = static_cast<double>(epoch_batches(data, e.batch, 0, 0, false).size());
      epoch_cost[key] = e;
    }
    const EpochCost& e = epoch_cost[key];
    const auto epochs = static_cast<double>(c->settings.epochs);
    const double flops = 6 * params * e.tokens * epochs;  // forward + backward, dense estimate
    const double steps = e.steps * epochs;
    const bool trained = store.find("model", c->model_key).has_value();
    std::string measured;
    if (!trained) {  // a cached model costs only its probe
      total_flops += flops;
      total_steps += steps;
      ++untrained;
      if (const auto it = committed.median_seconds.find(c->model); it != committed.median_seconds.end())
        history_s += it->second, ++history_cells;
      if (device) {
        const std::string k = fmt::format("{}/{}/{}/{}", c->model, e.batch, e.max_length, train_settings_json(c->settings).dump());
        if (!step_seconds.count(k)) {
          model->to(*device);
          model->train();
          step_seconds[k] = measure_train_step(*model, shape.vocab_size, e.batch, e.max_length, *device, c->settings, 5).seconds;
        }
        measured_s += steps * step_seconds[k];
        measured = fmt::format("{:>8.1f} ms/step ≈ {:.1f} min", step_seconds[k] * 1e3, steps * step_seconds[k] / 60);
      }
    }
    fmt::print("  {:<40} {:>12.0f} params  {:>10.3g} train FLOP  {:>8.0f} steps  {}\n", c->id, params, flops, steps,
               trained ? "(model cached: probe only)" : measured);
  }
  // Rates: effective throughput measured on our runs, not per machine. H100: paper/table1.toml (9 cells of a 2-layer
  // d_model 128 Mamba, --jobs 9) took 701 s for 2.55e16 FLOP by this count = 36 TFLOP/s; the 8-epoch version 368 s
  // (35 TFLOP/s). Checked on H200s (2026-11-26, 4-7 worker processes per GPU): Table 1 ran at 33 TFLOP/s per GPU,
  // Table 3's seven architectures at 28 (results/bench/sweep-table1-h200.json, README). Larger models use the GPU
  // better, so this overestimates their time. Dataset generation (CPU) is not included.
  // Small models of Table 1 ran at 88 optimizer steps/s per GPU in total however many workers shared it (4, 5 or 9;
  // sweep-table1-h200.json), so the estimate is the larger of the FLOP time and the step time at that rate. That
  // rate does not carry over: the Achilles specs' d_state-128 Mamba ran 14-18 steps/s
  // (achilles-step-rate-h200.json), hence --measure.
  const double flop_min = total_flops / 36e12 / 60, step_min = total_steps / 88 / 60;
  fmt::print("estimated cost: {:.3g} FLOP, {:.3g} optimizer steps ≈ {:.1f} min on 2 CPU cores at 20 GFLOP/s, ≈ {:.2f} "
             "min on one GPU (the larger of FLOP at 36 TFLOP/s: {:.2f} min, and steps at 88/s: {:.2f} min; rates "
             "measured on small models run several at a time, and Table 3's mix ran 27 % slower)\n",
             total_flops, total_steps, total_flops / 20e9 / 60, std::max(flop_min, step_min), flop_min, step_min);
  if (history_cells > 0)
    fmt::print("from committed results: {} of the {} cells to train have a model this spec's committed cells trained "
               "(on {}); at their median training time per model: ≈ {:.1f} min of cell time (as those cells ran: "
               "several to a GPU take longer each)\n",
               history_cells, untrained, committed.devices, history_s / 60);
  if (device)
    fmt::print("measured: ≈ {:.1f} min of training on {}, one cell at a time (5 timed steps per distinct model and "
               "batch shape, at the split's longest example; validation, probing and generation not included)\n",
               measured_s / 60, device_description(*device));
}

}  // namespace

std::vector<const Cell*> stale_cells(const std::vector<Cell>& cells, const Spec& spec, const RunOptions& opts) {
  if (!opts.cell.empty() && std::none_of(cells.begin(), cells.end(), [&](const Cell& c) { return c.id == opts.cell; })) {
    std::string ids;
    for (const auto& c : cells) ids += (ids.empty() ? "" : ", ") + c.id;
    throw UserError(fmt::format("--cell: '{}' is not a cell of {} (its cells: {})", opts.cell, spec.path, ids));
  }
  std::vector<const Cell*> stale;
  // generate/train pass every cell through the store (cached artifacts cost a checksum); probe and run
  // skip cells whose published result is current.
  const bool publishes = opts.until == Until::Probe || opts.until == Until::Report;
  const Store store(opts.store_dir);
  for (const auto& c : cells)
    if (selected(c, opts) && (opts.force || !publishes || !result_current(spec, c, opts, store))) stale.push_back(&c);
  if (!opts.only.empty() && std::none_of(cells.begin(), cells.end(), [&](const Cell& c) { return matches_any(opts.only, c.id); }))
    throw UserError(fmt::format("--only: no cell of {} matches (cell ids look like {})", spec.path, cells.front().id));
  return stale;
}

namespace {
// Cells on `opts.jobs` threads of this process; returns how many failed.
int run_threads(const Spec& spec, const PluginRegistry& plugins, const Store& store,
                const std::vector<const Cell*>& stale, const RunOptions& opts) {
  std::atomic<size_t> next{0};
  std::atomic<int> failed{0};
  const int jobs = std::max(1, std::min<int>(opts.jobs, static_cast<int>(stale.size())));
  if (jobs > 1) torch::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / jobs));
  on_threads(jobs, [&](int) {
    for (size_t i; (i = next++) < stale.size();) {
      try {
        run_cell(spec, plugins, store, *stale[i], opts);
      } catch (const std::exception& e) {
        log::error("cell {} failed: {}", stale[i]->id, e.what());  // one write per line: threads do not interleave
        ++failed;
      }
    }
  });
  return failed.load();
}
}  // namespace

int run_spec(const Spec& spec, const PluginRegistry& plugins, const RunOptions& opts) {
  Store store(opts.store_dir);
  const auto cells = plan_cells(spec, plugins);
  const fs::path rdir = results_dir(spec, opts);
  if (!opts.sweep_dir.empty()) return sweep_worker(spec, plugins, store, cells, opts);
  const std::vector<const Cell*> stale = stale_cells(cells, spec, opts);
  if (opts.dry_run) {
    dry_run(spec, plugins, store, cells, stale, opts);
    return 0;
  }
  int failed = 0;
  if (opts.dist.enabled()) {
    failed = run_rank(spec, plugins, store, cells, stale, opts);
  } else {
    log::info("{}: {} cells, {}", spec.name, cells.size(), cell_counts(cells, stale, opts, "up to date"));
    if (opts.gpus.empty()) failed = run_threads(spec, plugins, store, stale, opts);
    else if (!opts.cell.empty()) failed = stale.empty() ? 0 : launch_ranks(spec, plugins, opts);
    else failed = run_sweep(spec, stale, opts);
  }

  if (opts.until == Until::Report && opts.dist.rank == 0) {
    auto md = render_report(spec, cells, {rdir, opts.reports_dir, opts.pdf});
    log::info("report: {}", md.string());
  }
  if (failed) log::error("{} of {} cells failed", failed, stale.size());
  return failed ? 1 : 0;
}

}  // namespace repro
