// repro: generate -> train -> probe -> report, driven by TOML experiment specs.
#include <boost/program_options.hpp>
#include <fmt/format.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>

#include "../core/dataset_io.hpp"
#include "../core/distributed.hpp"
#include "../core/error.hpp"
#include "../core/log.hpp"
#include "../core/params.hpp"
#include "../core/plan.hpp"
#include "../core/plugins.hpp"
#include "../core/process.hpp"
#include <kernels/info.hpp>
#include "../core/spec.hpp"
#include "../core/store.hpp"
#include "../core/fs.hpp"
#include "../stages/export_slurm.hpp"
#include "../stages/generate.hpp"
#include "../stages/index.hpp"
#include "../stages/report.hpp"
#include "../stages/run.hpp"
#include "../stages/show.hpp"
#include "../stages/train.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace repro;

namespace {

const char* kUsage = R"(usage: repro <command> [options]

commands:
  run <spec>        generate, train, probe every stale cell, then render the report
  generate <spec>   only generate the datasets the spec needs (--show N: print N decoded examples)
  train <spec>      generate + train (models land in the store)
  probe <spec>      generate + train + probe, publishing results/<name>/*.json
  report <spec>     render reports/<name>.md (+ .pdf) from committed results only
  index <spec>…     render reports/index.md: every paper table/figure and its status
  validate <spec>…  check specs against the plugins; prints nothing else on success
  plugins           list plugins and their parameters (--params <spec>: model sizes)
  clean             remove the artifact store (--results <spec>: also that spec's results)
  export slurm <spec>  write an sbatch array script, one task per stale cell

run 'repro <command> --help' for the command's options.
exit codes: 0 ok, 1 a cell failed, 2 bad input, 3 plugin error)";

struct Common {
  std::vector<std::string> plugin_paths;
  bool verbose = false, quiet = false;
};

po::options_description common_options(Common& c) {
  po::options_description d("common options");
  d.add_options()("help,h", "show this command's help")(
      "plugin-path", po::value(&c.plugin_paths)->composing(),
      "extra directory to search for plugins (repeatable; also REPRO_PLUGIN_PATH)")(
      "verbose,v", po::bool_switch(&c.verbose), "debug logging")("quiet,q", po::bool_switch(&c.quiet), "warnings and errors only");
  return d;
}

// Parses a command's options; nullopt when --help was printed (the command then exits 0).
std::optional<po::variables_map> parse(const std::vector<std::string>& args, const po::options_description& d,
                                       const po::positional_options_description& pos = {}) {
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(d).positional(pos).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << d << "\n";
    return std::nullopt;
  }
  return vm;
}

PluginRegistry load_plugins(const Common& c) {
  std::vector<fs::path> extra(c.plugin_paths.begin(), c.plugin_paths.end());
  PluginRegistry reg(PluginRegistry::search_path(extra));
  for (const auto& p : reg.problems()) log::warn("{}", p);
  return reg;
}

int show_datasets(const Spec& spec, const PluginRegistry& reg, const Store& store, int64_t count,
                  const std::string& split_name, const std::string& only) {
  const std::map<std::string, sdk::Split> splits = {
      {"train", sdk::Split::Train}, {"valid", sdk::Split::Valid}, {"test", sdk::Split::Test}};
  if (!splits.count(split_name)) throw UserError("--split: expected train, valid or test, got '" + split_name + "'");
  if (!only.empty() && !spec.datasets.count(only))
    throw UserError(fmt::format("--dataset: '{}' is not a dataset of {}", only, spec.path));
  for (const auto& [id, ds] : spec.datasets) {
    if (!only.empty() && id != only) continue;
    auto ref = split_ref(spec, reg, id, splits.at(split_name));
    if (ref.examples == 0) {
      fmt::print("== {} ({}): no {} examples in the spec\n", id, ds.task, split_name);
      continue;
    }
    auto data = load_dataset(ensure_split(store, reg, spec, ref));
    fmt::print("== {} ({}, {} split, {} examples)\n", id, ds.task, split_name, data.inputs.size(0));
    show_examples(data, count, std::cout);
    std::cout << "\n";
  }
  return 0;
}

// --rank/--world-size/--master override torchrun's variables (DistConfig::from_env).
DistConfig dist_config(const po::variables_map& vm) {
  DistConfig d = DistConfig::from_env();
  if (vm.count("rank")) d.rank = vm["rank"].as<int>();
  if (vm.count("world-size")) d.world = vm["world-size"].as<int>();
  if (vm.count("master")) {
    const auto m = vm["master"].as<std::string>();
    const auto colon = m.rfind(':');
    char* end = nullptr;
    const long port = colon == std::string::npos ? -1 : std::strtol(m.c_str() + colon + 1, &end, 10);
    if (colon == std::string::npos || colon == 0 || *end != '\0' || port <= 0 || port > 65535)
      throw UserError("--master: expected HOST:PORT, got '" + m + "'");
    d.host = m.substr(0, colon);
    d.port = static_cast<int>(port);
  }
  d.check();
  return d;
}

int cmd_pipeline(const std::string& cmd, const std::vector<std::string>& args) {
  Common c;
  RunOptions o;
  std::string spec_path, store, results, reports, device, gpus, sweep_dir, scale;
  po::options_description d(fmt::format("repro {} <spec> [options]", cmd));
  d.add(common_options(c));
  d.add_options()("spec", po::value(&spec_path), "experiment spec (TOML)")(
      "scale", po::value(&scale), "one of the spec's [scales] (e.g. small | paper); default: its [scales] default")(
      "store", po::value(&store)->default_value(".repro/store"), "artifact store directory (also REPRO_STORE)")(
      "results", po::value(&results)->default_value("results"), "results root: results/<spec name>/")(
      "reports", po::value(&reports)->default_value("reports"), "where reports/<spec name>.md is written")(
      "device", po::value(&device), "override every model's device: cpu | cuda | auto")(
      "force", po::bool_switch(&o.force), "recompute cells even when their results are current")(
      "dry-run,n", po::bool_switch(&o.dry_run), "list what would run, with an estimated cost, and stop")(
      "measure", po::bool_switch(&o.measure),
      "with --dry-run: time 5 training steps of each model on --device and estimate from them")(
      "jobs,j", po::value(&o.jobs)->default_value(1), "cells to run concurrently (threads of this process; with --gpus, of each worker process)")(
      "only", po::value(&o.only)->multitoken(), "only cells whose id matches a glob, e.g. '*__s0' (repeatable)")(
      "no-pdf", "skip the pandoc PDF");
  if (cmd != "generate" && cmd != "report")
    d.add_options()("cell", po::value(&o.cell), "only this cell (an id as in results/<spec>/<id>.json)")(
        "gpus", po::value(&gpus),
        "comma-separated GPU ids, repeats allowed (0,0,1): one worker process each, cells spread over them; "
        "with --cell, one data-parallel rank each (Gloo on --device cpu, NCCL on cuda)")(
        "rank", po::value<int>(), "this process's data-parallel rank (or RANK)")(
        "world-size", po::value<int>(), "ranks in the data-parallel group (or WORLD_SIZE)")(
        "master", po::value<std::string>(), "HOST:PORT of rank 0's rendezvous (or MASTER_ADDR, MASTER_PORT)")(
        "sweep-worker", po::value(&sweep_dir), "internal: run as a worker of the sweep in this directory");
  int64_t show = 0;
  std::string show_split = "train", show_dataset;
  if (cmd == "generate")
    d.add_options()("show", po::value(&show), "print the first N examples of each dataset, decoded")(
        "split", po::value(&show_split), "with --show: train | valid | test (default train)")(
        "dataset", po::value(&show_dataset), "with --show: only this dataset id");
  po::positional_options_description pos;
  pos.add("spec", 1);
  auto parsed = parse(args, d, pos);
  if (!parsed) return 0;
  const po::variables_map& vm = *parsed;
  if (spec_path.empty()) throw UserError(fmt::format("repro {}: missing <spec> (a TOML experiment spec)", cmd));
  if (c.verbose) log::threshold() = log::Level::Debug;
  if (c.quiet) log::threshold() = log::Level::Warn;
  if (o.jobs < 1) throw UserError("--jobs: expected a positive integer");
  if (o.measure && !o.dry_run) throw UserError("--measure: only with --dry-run");
  if (!gpus.empty()) o.gpus = parse_gpu_list(gpus, "--gpus");
  if (cmd != "generate" && cmd != "report") o.dist = dist_config(vm);
  if (o.dist.enabled() && !o.gpus.empty())
    throw UserError("--gpus starts its own ranks: leave out --rank/--world-size (and WORLD_SIZE)");
  o.sweep_dir = sweep_dir;
  o.command_line = args;
  o.command_line.insert(o.command_line.begin(), cmd);
  if (const char* env = std::getenv("REPRO_STORE"); env && vm["store"].defaulted()) store = env;
  o.store_dir = store;
  o.results_root = results;
  o.reports_dir = reports;
  o.pdf = !vm.count("no-pdf");
  if (!device.empty()) {
    if (device != "cpu" && device != "cuda" && device != "auto")
      throw UserError("--device: expected cpu, cuda or auto, got '" + device + "'");
    o.device = device;
  }
  o.until = cmd == "generate" ? Until::Generate : cmd == "train" ? Until::Train : cmd == "probe" ? Until::Probe : Until::Report;
  auto reg = load_plugins(c);
  Spec spec = load_spec(spec_path, reg, scale);
  if (cmd == "report") {
    auto cells = plan_cells(spec, reg);
    log::info("report: {}", render_report(spec, cells, {results_dir(spec, o), o.reports_dir, o.pdf}).string());
    return 0;
  }
  if (show > 0) return show_datasets(spec, reg, Store(o.store_dir), show, show_split, show_dataset);
  return run_spec(spec, reg, o);
}

int cmd_export(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "slurm") throw UserError("repro export: expected 'slurm' (repro export slurm <spec>)");
  Common c;
  RunOptions o;
  SlurmExport how;
  std::string out, store, results, device, scale;
  std::vector<std::string> sbatch;
  po::options_description d("repro export slurm <spec> [options]");
  d.add(common_options(c));
  d.add_options()("spec", po::value(&how.spec_path), "experiment spec (TOML)")(
      "scale", po::value(&scale), "one of the spec's [scales]; default: its [scales] default")(
      "out,o", po::value(&out), "write the script here (default: standard output)")(
      "store", po::value(&store)->default_value(".repro/store"), "the shared artifact store (also REPRO_STORE)")(
      "results", po::value(&results)->default_value("results"), "results root: results/<spec name>/")(
      "device", po::value(&device)->default_value("cuda"), "the tasks' --device: cuda (one GPU per task) or cpu")(
      "stage", po::value(&how.stage)->default_value("train"), "what each task runs: train, or probe (train + publish)")(
      "sbatch", po::value(&sbatch)->composing(), "an extra #SBATCH option, e.g. --sbatch=--partition=gpu (repeatable)")(
      "force", po::bool_switch(&o.force), "export every cell, not only the stale ones");
  po::positional_options_description pos;
  pos.add("spec", 1);
  auto parsed = parse(std::vector<std::string>(args.begin() + 1, args.end()), d, pos);
  if (!parsed) return 0;
  const po::variables_map& vm = *parsed;
  if (how.spec_path.empty()) throw UserError("repro export slurm: missing <spec> (a TOML experiment spec)");
  if (device != "cuda" && device != "cpu") throw UserError("--device: expected cuda or cpu, got '" + device + "'");
  if (const char* env = std::getenv("REPRO_STORE"); env && vm["store"].defaulted()) store = env;
  auto reg = load_plugins(c);
  Spec spec = load_spec(how.spec_path, reg, scale);
  o.results_root = results;
  const auto cells = plan_cells(spec, reg);
  const auto stale = stale_cells(cells, spec, o);
  if (stale.empty()) {
    log::info("{}: all {} cells are up to date; nothing to export", spec.name, cells.size());
    return 0;
  }
  // Tasks start elsewhere: every path they get is absolute.
  how.binary = self_exe();
  how.workdir = fs::current_path();
  how.spec_path = fs::absolute(how.spec_path).string();
  how.gpu = device == "cuda";
  how.sbatch = sbatch;
  how.task_args = {"--store", fs::absolute(store).string(), "--results", fs::absolute(results).string(), "--device", device};
  if (!scale.empty()) how.task_args.insert(how.task_args.end(), {"--scale", scale});
  for (const auto& p : c.plugin_paths) how.task_args.insert(how.task_args.end(), {"--plugin-path", fs::absolute(p).string()});
  const std::string script = slurm_array_script(spec, stale, how);
  if (out.empty()) {
    std::cout << script;
  } else {
    write_file_atomic(out, script);
    fs::permissions(out, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
    log::info("{}: {} of {} cells stale; wrote {} (sbatch {})", spec.name, stale.size(), cells.size(), out, out);
  }
  return 0;
}

int cmd_validate(const std::vector<std::string>& args) {
  Common c;
  std::vector<std::string> specs;
  std::string scale;
  po::options_description d("repro validate <spec>... [options]");
  d.add(common_options(c));
  d.add_options()("spec", po::value(&specs)->composing(), "specs to check")(
      "scale", po::value(&scale), "check this one of the specs' [scales] (default: each spec's default)");
  po::positional_options_description pos;
  pos.add("spec", -1);
  auto parsed = parse(args, d, pos);
  if (!parsed) return 0;
  const po::variables_map& vm = *parsed;
  if (specs.empty()) throw UserError("repro validate: give at least one spec");
  auto reg = load_plugins(c);
  for (const auto& s : specs) {
    Spec spec = load_spec(s, reg, scale);
    auto cells = plan_cells(spec, reg);
    if (!c.quiet) fmt::print("{}: ok ({} cells)\n", s, cells.size());
  }
  return 0;
}

int cmd_index(const std::vector<std::string>& args) {
  Common c;
  std::vector<std::string> specs;
  std::string artifacts, results, reports;
  po::options_description d("repro index <spec>... [options]");
  d.add(common_options(c));
  d.add_options()("spec", po::value(&specs)->composing(), "the specs that reproduce paper artifacts")(
      "artifacts", po::value(&artifacts)->default_value("paper/index/artifacts.toml"), "the list of paper artifacts")(
      "results", po::value(&results)->default_value("results"), "results root: results/<spec name>/")(
      "reports", po::value(&reports)->default_value("reports"), "where index.md is written");
  po::positional_options_description pos;
  pos.add("spec", -1);
  if (!parse(args, d, pos)) return 0;
  auto reg = load_plugins(c);
  std::vector<IndexedSpec> indexed;
  for (const auto& s : specs) {
    Spec spec = load_spec(s, reg);
    // Its other scales (e.g. paper) where they have results: a scale that ran reproduces the artifact too.
    std::vector<Spec> scaled = {spec};
    for (const auto& scale : spec.other_scales)
      if (fs::is_directory(fs::path(results) / (spec.name + "-" + scale))) scaled.push_back(load_spec(s, reg, scale));
    for (auto& sp : scaled) {
      auto cells = plan_cells(sp, reg);
      const fs::path dir = fs::path(results) / sp.name;
      indexed.push_back({std::move(sp), std::move(cells), dir});
    }
  }
  log::info("index: {}", render_index(artifacts, indexed, reports).string());
  return 0;
}

int cmd_plugins(const std::vector<std::string>& args) {
  Common c;
  std::string spec_path, scale;
  po::options_description d("repro plugins [--params <spec>] [options]");
  d.add(common_options(c));
  d.add_options()("params", po::value(&spec_path), "print the parameter count of every model in this spec")(
      "scale", po::value(&scale), "with --params: one of the spec's [scales]");
  auto parsed = parse(args, d);
  if (!parsed) return 0;
  const po::variables_map& vm = *parsed;
  auto reg = load_plugins(c);
  if (!spec_path.empty()) {
    Spec spec = load_spec(spec_path, reg, scale);
    for (const auto& cell : plan_cells(spec, reg)) {
      if (cell.seed != spec.grid.seeds.front()) continue;
      auto m = build_seeded_model(reg, spec.models.at(cell.model), model_shape(spec, reg, cell), 0);
      fmt::print("{:<24} {:<14} trained on {:<16} {:>12} parameters\n", cell.model, spec.models.at(cell.model).architecture,
                 cell.train_dataset, parameter_count(*m));
    }
    return 0;
  }
  for (const auto& p : reg.list()) {
    fmt::print("{} {} (version {})  {}\n  {}\n", p.kind, p.name, p.version, p.path.string(), p.description);
    for (const auto& s : p.params)
      fmt::print("    {:<20} {:<20} default {:<12} {}\n", s.name, type_name(s.type), to_text(s.default_value), s.help);
  }
  for (const auto& p : reg.problems()) fmt::print("refused: {}\n", p);
  fmt::print("kernels: {}\n", repro::kernels::describe());
  return 0;
}

int cmd_clean(const std::vector<std::string>& args) {
  Common c;
  std::string store, results_spec;
  po::options_description d("repro clean [options]");
  d.add(common_options(c));
  d.add_options()("store", po::value(&store)->default_value(".repro/store"), "artifact store to remove")(
      "results", po::value(&results_spec), "also remove results/<name>/ of this spec");
  auto parsed = parse(args, d);
  if (!parsed) return 0;
  const po::variables_map& vm = *parsed;
  if (const char* env = std::getenv("REPRO_STORE"); env && vm["store"].defaulted()) store = env;
  auto n = fs::remove_all(store);
  fmt::print("removed {} ({} entries)\n", store, n);
  if (!results_spec.empty()) {
    auto reg = load_plugins(c);
    Spec spec = load_spec(results_spec, reg);
    fs::path dir = fs::path("results") / spec.name;
    fmt::print("removed {} ({} entries)\n", dir.string(), fs::remove_all(dir));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGXFSZ, SIG_IGN);  // over a file size limit: a write error with its path, not a silent death
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage << "\n";
    return args.empty() ? 2 : 0;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "run" || cmd == "generate" || cmd == "train" || cmd == "probe" || cmd == "report")
      return cmd_pipeline(cmd, args);
    if (cmd == "validate") return cmd_validate(args);
    if (cmd == "index") return cmd_index(args);
    if (cmd == "plugins") return cmd_plugins(args);
    if (cmd == "clean") return cmd_clean(args);
    if (cmd == "export") return cmd_export(args);
    throw UserError("unknown command '" + cmd + "' (run 'repro --help')");
  } catch (const UserError& e) {
    log::error("{}", e.what());
    return 2;
  } catch (const po::error& e) {
    log::error("repro {}: {}", cmd, e.what());
    return 2;
  } catch (const PluginError& e) {
    log::error("{}", e.what());
    return 3;
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    return 1;
  }
}
