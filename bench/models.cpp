// repro-bench-models <spec> [--device cpu|cuda] [--steps N] [--batch B] [--len L] [--profile DIR]
// Times one training step of every model in a spec as the train stage runs it (its precision, clipping and
// fused AdamW; stages/step_time.hpp), at the spec's batch size and longest sequence (or --batch/--len). The numbers
// say what a full run of the spec will cost before it is started. --profile DIR also records 3 more steps of each
// model with LibTorch's Kineto profiler: DIR/<model>.trace.json (chrome://tracing, Perfetto) and, printed, the
// kernels that take the most GPU time per step (on CPU: operators, a parent's time including its children's) —
// where a step's time goes.
#include <fmt/format.h>

#include <torch/csrc/autograd/profiler_kineto.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "../pipeline/core/plugins.hpp"
#include "../pipeline/core/provenance.hpp"
#include "../pipeline/core/spec.hpp"
#include "../pipeline/stages/step_time.hpp"
#include "../pipeline/stages/train.hpp"

using namespace repro;

namespace {
namespace prof = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;

// 3 steps under Kineto (after measure_train_step's 2 warm-up steps); prints the events of the device that ran them
// (GPU kernels on CUDA, operators on CPU) by total time, per step.
void profile_steps(sdk::Model& model, int64_t vocab, int64_t B, int64_t L, const torch::Device& dev,
                   const TrainSpec& t, const std::string& dir, const std::string& name) {
  constexpr int64_t kSteps = 3;
  const torch::profiler::impl::ProfilerConfig cfg(torch::profiler::impl::ProfilerState::KINETO);
  std::set<ActivityType> acts{ActivityType::CPU};
  if (dev.is_cuda()) acts.insert(ActivityType::CUDA);
  prof::prepareProfiler(cfg, acts);
  prof::enableProfiler(cfg, acts);
  measure_train_step(model, vocab, B, L, dev, t, kSteps);
  auto result = prof::disableProfiler();
  std::filesystem::create_directories(dir);
  const std::string trace = dir + "/" + name + ".trace.json";
  result->save(trace);
  const auto want = dev.is_cuda() ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
  std::map<std::string, std::pair<double, int64_t>> by_name;  // total ns, count
  double total = 0, events = 0;
  for (const auto& e : result->events()) {
    if (e.deviceType() != want || e.durationNs() == 0) continue;
    if (!dev.is_cuda() && e.name().rfind("aten::", 0) != 0) continue;
    auto& [ns, n] = by_name[e.name()];
    ns += static_cast<double>(e.durationNs()), ++n;
    total += static_cast<double>(e.durationNs()), ++events;
  }
  std::vector<std::pair<std::string, std::pair<double, int64_t>>> rows(by_name.begin(), by_name.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  const double steps = static_cast<double>(2 + kSteps);  // the warm-up steps run under the profiler too
  fmt::print("  {} profile ({}): {:.2f} ms of {} time per step in {:.0f} events; top by time:\n", name, trace,
             total / steps / 1e6, dev.is_cuda() ? "GPU kernel" : "CPU operator", events / steps);
  for (size_t i = 0; i < std::min<size_t>(rows.size(), 15); ++i)
    fmt::print("    {:>8.3f} ms/step {:>5.1f} %  {:>5.1f}×/step  {:.110}\n", rows[i].second.first / steps / 1e6,
               100 * rows[i].second.first / total, static_cast<double>(rows[i].second.second) / steps, rows[i].first);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: repro-bench-models <spec> [--device cpu|cuda] [--steps N] [--batch B] [--len L]\n");
    return 2;
  }
  std::string device_name = "auto";
  int64_t steps = 10, batch = 0, len = 0;
  std::string profile_dir;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--device")) device_name = argv[i + 1];
    else if (!std::strcmp(argv[i], "--steps")) steps = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--batch")) batch = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--len")) len = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--profile")) profile_dir = argv[i + 1];
  }
  try {
    PluginRegistry reg(PluginRegistry::search_path({}));
    Spec spec = load_spec(argv[1], reg);
    const torch::Device dev = resolve_device(device_name);
    fmt::print("{} on {}; {} timed steps after 2 warm-up steps\n", spec.path, device_description(dev), steps);
    fmt::print("{:<24} {:>12} {:>6} {:>6} {:>10} {:>12} {:>10}\n", "model", "params", "batch", "len", "ms/step",
               "tokens/s", "peak GiB");
    std::set<std::string> done;
    for (const auto& cell : plan_cells(spec, reg)) {
      if (!done.insert(cell.model).second) continue;
      const ModelSpec& ms = spec.models.at(cell.model);
      auto shape = model_shape(spec, reg, cell);
      const int64_t B = batch ? batch : ms.train.batch_size, L = len ? len : shape.max_seq_len;
      auto model = build_seeded_model(reg, ms, shape, 0);
      model->to(dev);
      model->train();
      const StepTime st = measure_train_step(*model, shape.vocab_size, B, L, dev, ms.train, steps);
      const double secs = st.seconds, peak = st.peak_gib;
      fmt::print("{:<24} {:>12} {:>6} {:>6} {:>10.1f} {:>12.0f} {:>10.2f}\n", cell.model, parameter_count(*model), B, L,
                 secs * 1e3, B * L / secs, peak);
      if (!profile_dir.empty()) profile_steps(*model, shape.vocab_size, B, L, dev, ms.train, profile_dir, cell.model);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
