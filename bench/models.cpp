// repro-bench-models <spec> [--device cpu|cuda] [--steps N] [--batch B] [--len L]
// Times one training step (forward, backward, AdamW) of every model in a spec, at the spec's batch
// size and longest sequence (or --batch/--len), with the trainer's bf16 autocast on CUDA. The numbers
// say what a full run of the spec will cost before it is started.
#include <fmt/format.h>

#include <c10/cuda/CUDACachingAllocator.h>

#include <chrono>
#include <cstring>
#include <set>

#include "../pipeline/core/plugins.hpp"
#include "../pipeline/core/provenance.hpp"
#include "../pipeline/core/spec.hpp"
#include "../pipeline/stages/evaluate.hpp"
#include "../pipeline/stages/train.hpp"

using namespace repro;

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: repro-bench-models <spec> [--device cpu|cuda] [--steps N] [--batch B] [--len L]\n");
    return 2;
  }
  std::string device_name = "auto";
  int64_t steps = 10, batch = 0, len = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--device")) device_name = argv[i + 1];
    else if (!std::strcmp(argv[i], "--steps")) steps = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--batch")) batch = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--len")) len = std::atoll(argv[i + 1]);
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
      torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-4));
      auto x = torch::randint(0, shape.vocab_size, {B, L}, torch::TensorOptions().dtype(torch::kInt64).device(dev));
      auto y = torch::randint(0, shape.vocab_size, {B, L}, torch::TensorOptions().dtype(torch::kInt64).device(dev));
      auto mask = torch::ones({B, L}, torch::TensorOptions().dtype(torch::kBool).device(dev));
      const bool autocast = dev.is_cuda() && ms.train.precision == "bf16";
      auto step = [&] {
        torch::Tensor loss;
        {
          AutocastGuard ag(autocast);
          auto [sum, count] = masked_ce_sum(model->forward(x), y, mask);
          loss = sum / count;
        }
        opt.zero_grad();
        loss.backward();
        opt.step();
        return loss.item<double>();  // synchronises
      };
      step(), step();
      if (dev.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(dev.index());
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t s = 0; s < steps; ++s) step();
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
      double peak = 0;
      if (dev.is_cuda()) {
        auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(dev.index());
        peak = static_cast<double>(stats.allocated_bytes[0].peak) / (1 << 30);
      }
      fmt::print("{:<24} {:>12} {:>6} {:>6} {:>10.1f} {:>12.0f} {:>10.2f}\n", cell.model, parameter_count(*model), B, L,
                 secs * 1e3, B * L / secs, peak);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
