#include "ranks.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "../core/error.hpp"
#include "../core/log.hpp"
#include "../core/process.hpp"
#include "../core/provenance.hpp"
#include "sweep.hpp"

namespace repro {

namespace {
const Cell& the_cell(const std::vector<Cell>& cells, const RunOptions& opts) {
  for (const auto& c : cells)
    if (c.id == opts.cell) return c;
  throw UserError("data-parallel training needs --cell <id>: the ranks of a group train one cell together");
}

torch::Device cell_device(const Cell& cell, const RunOptions& opts) {
  return resolve_device(opts.device.value_or(cell.settings.device));
}
}  // namespace

int launch_ranks(const Spec& spec, const PluginRegistry& plugins, const RunOptions& opts) {
  const int world = static_cast<int>(opts.gpus.size());
  const auto cells = plan_cells(spec, plugins);
  const torch::Device device = cell_device(the_cell(cells, opts), opts);
  if (world > 1) {
    if (auto why = data_parallel_unavailable(device); !why.empty())
      throw UserError(fmt::format("--gpus: data-parallel on {}: {}", device.str(), why));
    if (device.is_cuda() && std::set<int>(opts.gpus.begin(), opts.gpus.end()).size() != opts.gpus.size())
      throw UserError("--gpus: NCCL needs a different GPU for every rank of a data-parallel group");
  }
  const int port = free_local_port();
  std::vector<std::string> args = child_command_line(opts);
  args.insert(args.end(), {"--world-size", std::to_string(world), "--master", fmt::format("127.0.0.1:{}", port)});
  log::info("{}: data-parallel over {} ranks ({}, GPUs {})", opts.cell, world, device.is_cuda() ? "NCCL" : "Gloo",
            fmt::format("{}", fmt::join(opts.gpus, ",")));
  Children kids;
  std::map<pid_t, int> rank_of;
  for (int r = 0; r < world; ++r) {
    auto a = args;
    a.insert(a.end(), {"--rank", std::to_string(r)});
    rank_of[kids.spawn(a, {{"CUDA_VISIBLE_DEVICES", std::to_string(opts.gpus[static_cast<size_t>(r)])},
                           {"LOCAL_WORLD_SIZE", std::to_string(world)}})] = r;
  }
  int failed = 0;
  while (kids.running() > 0) {
    const ChildExit e = kids.wait_any();
    if (e.ok() || failed) continue;
    // The others would wait in their next collective until its timeout: stop them now.
    log::error("{}: rank {} {}; stopping the other ranks", opts.cell, rank_of[e.pid], e.describe());
    failed = 1;
    kids.terminate_all();
  }
  return failed;
}

int run_rank(const Spec& spec, const PluginRegistry& plugins, const Store& store, const std::vector<Cell>& cells,
             const std::vector<const Cell*>& stale, const RunOptions& opts) {
  die_with_parent();
  const Cell& cell = the_cell(cells, opts);
  if (opts.dist.rank > 0 && log::threshold() == log::Level::Info) log::threshold() = log::Level::Warn;  // one voice
  const torch::Device device = cell_device(cell, opts);
  if (device.is_cpu()) {  // the ranks of one host share its cores
    const char* local = std::getenv("LOCAL_WORLD_SIZE");
    const int per_host = std::max(1, local ? std::atoi(local) : 1);
    torch::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / per_host));
  }
  DataParallel dp(opts.dist, device);
  if (!dp.leaders_choice(!stale.empty())) {
    log::info("{}: up to date", cell.id);
    return 0;
  }
  try {
    run_cell(spec, plugins, store, cell, opts, &dp);
  } catch (const std::exception& e) {
    log::error("cell {} failed on rank {} of {}: {}", cell.id, dp.rank(), dp.world(), e.what());
    return 1;
  }
  return 0;
}

}  // namespace repro
