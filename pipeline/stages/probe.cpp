#include "probe.hpp"

#include <chrono>

#include "../core/dataset_io.hpp"
#include "../core/log.hpp"
#include "../core/safetensors.hpp"
#include "evaluate.hpp"
#include "metrics.hpp"
#include "train.hpp"

namespace repro {
namespace fs = std::filesystem;
using json = nlohmann::json;

json probe_cell(const ProbeJob& job) {
  const Cell& cell = job.cell;
  const ModelSpec& ms = job.spec.models.at(cell.model);
  auto t0 = std::chrono::steady_clock::now();
  auto model = build_seeded_model(job.plugins, ms, model_shape(job.spec, job.plugins, cell), cell.seed);
  {
    torch::serialize::InputArchive a;
    a.load_from((job.model_dir / "model.pt").string());
    model->load(a);
  }
  model->to(job.device);
  const bool autocast = job.device.is_cuda() && ms.train.precision == "bf16";

  json tests = json::object();
  TensorMap matrices;
  for (size_t i = 0; i < cell.tests.size(); ++i) {
    const auto& ref = cell.tests[i];
    auto data = load_dataset(job.test_dirs[i]);
    auto ev = evaluate(*model, data, job.device, job.spec.probe.batch_size, autocast);
    auto acc = score(data, ev.preds);
    json r = acc.to_json();
    r["loss"] = ev.loss;
    r["dataset_key"] = ref.key;
    tests[ref.dataset] = r;
    const int64_t k = std::min<int64_t>(job.spec.probe.mixing_examples, data.inputs.size(0));
    if (k > 0) {
      torch::NoGradGuard ng;
      model->eval();
      auto mats = model->mixing_matrices(data.inputs.slice(0, 0, k).to(job.device));
      for (size_t l = 0; l < mats.size(); ++l) matrices[ref.dataset + ".layer" + std::to_string(l)] = mats[l].to(torch::kFloat).cpu();
      matrices[ref.dataset + ".inputs"] = data.inputs.slice(0, 0, k);
      for (const auto& [name, t] : data.meta) matrices[ref.dataset + ".meta." + name] = t.slice(0, 0, k);
    }
    log::info("{}: test {}: example acc {:.4f}, query acc {:.4f}, token acc {:.4f}", cell.id, ref.dataset, acc.example,
              acc.query, acc.token);
  }
  json out = {{"tests", tests}};
  if (!matrices.empty()) {
    auto b = job.store.build("probe", cell.result_key);
    save_safetensors(b.dir() / "mixing.safetensors", matrices);
    out["mixing_matrices"] = (b.commit({{"cell", cell.id}}) / "mixing.safetensors").string();
  }
  out["probe_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace repro
