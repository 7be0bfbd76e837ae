// repro-bench-models <spec> [--device cpu|cuda] [--steps N] [--batch B] [--len L]
// Times one training step of every model in a spec as the train stage runs it (its precision, clipping and
// fused AdamW; stages/step_time.hpp), at the spec's batch size and longest sequence (or --batch/--len). The numbers
// say what a full run of the spec will cost before it is started.
#include <fmt/format.h>

#include <cstring>
#include <set>

#include "../pipeline/core/plugins.hpp"
#include "../pipeline/core/provenance.hpp"
#include "../pipeline/core/spec.hpp"
#include "../pipeline/stages/step_time.hpp"
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
      const StepTime st = measure_train_step(*model, shape.vocab_size, B, L, dev, ms.train, steps);
      const double secs = st.seconds, peak = st.peak_gib;
      fmt::print("{:<24} {:>12} {:>6} {:>6} {:>10.1f} {:>12.0f} {:>10.2f}\n", cell.model, parameter_count(*model), B, L,
                 secs * 1e3, B * L / secs, peak);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
