#include "sweep.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "../core/error.hpp"
#include "../core/fs.hpp"
#include "../core/log.hpp"
#include "../core/process.hpp"
#include "../core/store.hpp"
#include "../core/threads.hpp"
#include "results.hpp"

namespace repro {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A worker died this many times while holding a cell: the cell, not the worker, is the problem.
constexpr int kMaxAttempts = 3;

enum class Outcome { Open, Done, Failed };

Outcome outcome(const Spec& spec, const Cell& c, const fs::path& dir, const RunOptions& opts) {
  if (fs::exists(dir / (c.id + ".done"))) return Outcome::Done;
  if (fs::exists(dir / (c.id + ".failed"))) return Outcome::Failed;
  // Published meanwhile by another process on the same store and results (another sweep).
  const bool publishes = opts.until == Until::Probe || opts.until == Until::Report;
  if (publishes && !opts.force && result_current(spec, c, opts, Store(opts.store_dir))) return Outcome::Done;
  return Outcome::Open;
}

fs::path claim_path(const Store& store, const Cell& c) { return store.root() / "locks" / ("cell-" + c.result_key); }

int attempts(const fs::path& dir, const Cell& c) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    n += e.path().filename().string().rfind(c.id + ".attempt-", 0) == 0;
  return n;
}

}  // namespace

std::vector<std::string> child_command_line(const RunOptions& opts) {
  auto args = without_option(opts.command_line, "--gpus");
  if (!args.empty() && args[0] == "run") args[0] = "probe";
  return args;
}

int run_sweep(const Spec& spec, const std::vector<const Cell*>& stale, const RunOptions& opts) {
  if (stale.empty()) return 0;
  const fs::path dir = fs::absolute(opts.store_dir) / "sweeps" /
                       fmt::format("{}-{}", ::getpid(), std::chrono::system_clock::now().time_since_epoch().count());
  json ids = json::array();
  for (const Cell* c : stale) ids.push_back(c->id);
  const int workers = static_cast<int>(opts.gpus.size());
  // "threads": cells run at once by all workers together, which share the host's cores.
  write_file_atomic(dir / "sweep.json", json{{"cells", ids}, {"threads", workers * std::max(1, opts.jobs)}}.dump(2));

  auto args = child_command_line(opts);
  args.insert(args.end(), {"--sweep-worker", dir.string()});
  Children kids;
  std::map<pid_t, int> slot_of;
  auto start = [&](int slot) {
    const pid_t pid = kids.spawn(args, {{"CUDA_VISIBLE_DEVICES", std::to_string(opts.gpus[static_cast<size_t>(slot)])}});
    slot_of[pid] = slot;
  };
  log::info("{}: {} cells on {} worker processes (GPUs {}) of {} thread{} each", spec.name, stale.size(), workers,
            fmt::join(opts.gpus, ","), std::max(1, opts.jobs), opts.jobs > 1 ? "s" : "");
  for (int s = 0; s < workers; ++s) start(s);

  auto open_cells = [&] {
    size_t n = 0;
    for (const Cell* c : stale) n += outcome(spec, *c, dir, opts) == Outcome::Open;
    return n;
  };
  int restarts = 0;
  while (kids.running() > 0) {
    const ChildExit e = kids.wait_any();
    const int slot = slot_of[e.pid];
    if (e.code == 0 || e.code == 1) continue;  // done with its claims; 1: a failure it recorded
    log::warn("sweep worker {} (GPU {}) {}", e.pid, opts.gpus[static_cast<size_t>(slot)], e.describe());
    // A killed worker is replaced while cells are open; an error exit (bad input, plugin) would recur.
    const size_t open = open_cells();
    if (e.code < 0 && open > 0 && restarts < kMaxAttempts * static_cast<int>(stale.size())) {
      ++restarts;
      log::info("restarting it: {} cells are still open", open);
      start(slot);
    }
  }

  int failed = 0;
  for (const Cell* c : stale) {
    switch (outcome(spec, *c, dir, opts)) {
      case Outcome::Done: break;
      case Outcome::Failed: ++failed; break;
      case Outcome::Open:
        log::error("cell {} did not finish: its worker ended without a result", c->id);
        ++failed;
    }
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return failed;
}

int sweep_worker(const Spec& spec, const PluginRegistry& plugins, const Store& store, const std::vector<Cell>& cells,
                 const RunOptions& opts) {
  die_with_parent();
  const fs::path& dir = opts.sweep_dir;
  const json info = json::parse(read_file(dir / "sweep.json"));
  // The host's cores are shared by every thread of every worker (this matters on CPU; on a GPU it is harmless).
  const int threads = std::max(1, info.value("threads", 1));
  torch::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / threads));
  std::map<std::string, const Cell*> by_id;
  for (const auto& c : cells) by_id[c.id] = &c;
  std::vector<const Cell*> mine;
  for (const auto& id : info.at("cells")) {
    auto it = by_id.find(id.get<std::string>());
    if (it == by_id.end()) throw UserError(fmt::format("{}: sweep lists cell '{}', which {} does not have",
                                                       (dir / "sweep.json").string(), id.get<std::string>(), spec.path));
    mine.push_back(it->second);
  }

  // --jobs threads claim cells like separate workers would: the claims are flock()s on their own descriptors,
  // exclusive between threads too. Many small cells share a GPU far better as threads of one process than as
  // processes, which the GPU time-slices (results/bench/achilles-step-rate-h200.json).
  // A worker's death is charged to every cell its threads were running, though one of them caused it: with
  // threads a cell may die kMaxAttempts times per thread before it counts as the cause. (A cell that always
  // crashes its process can then take a long-running neighbour down with it that often too.)
  const int max_attempts = kMaxAttempts * std::max(1, opts.jobs);
  std::atomic<int> failed{0};
  auto claim_loop = [&](int thread) {
    for (;;) {
      std::vector<const Cell*> busy;  // claimed by another worker or thread right now
      for (const Cell* c : mine) {
        if (outcome(spec, *c, dir, opts) != Outcome::Open) continue;
        FileLock claim(claim_path(store, *c), std::try_to_lock);
        if (!claim.owns()) {
          busy.push_back(c);
          continue;
        }
        if (outcome(spec, *c, dir, opts) != Outcome::Open) continue;  // finished while we looked
        const int before = attempts(dir, *c);
        write_file_atomic(dir / fmt::format("{}.attempt-{}-{}", c->id, ::getpid(), thread), "");
        if (before >= max_attempts) {
          const std::string why = fmt::format("a worker died {} times while running it", before);
          log::error("cell {} failed: {}", c->id, why);
          write_file_atomic(dir / (c->id + ".failed"), why);
          ++failed;
          continue;
        }
        if (before > 0) log::info("{}: taking over from a worker that died during it", c->id);
        try {
          run_cell(spec, plugins, store, *c, opts);
          write_file_atomic(dir / (c->id + ".done"), "");
        } catch (const std::exception& e) {
          log::error("cell {} failed: {}", c->id, e.what());
          write_file_atomic(dir / (c->id + ".failed"), e.what());
          ++failed;
        }
      }
      if (busy.empty()) break;
      // Wait until the holder of one of them finishes it or dies (the kernel then releases its lock).
      FileLock wait(claim_path(store, *busy.front()));
    }
  };
  // An error outside a cell (the sweep directory, a lock) ends this worker as it would without threads.
  on_threads(std::max(1, std::min<int>(opts.jobs, static_cast<int>(mine.size()))), claim_loop);
  return failed.load() ? 1 : 0;
}

}  // namespace repro
