#include "probe.hpp"

#include <algorithm>
#include <chrono>

#include "../core/dataset_io.hpp"
#include "../core/log.hpp"
#include "evaluate.hpp"
#include "info_flow.hpp"
#include "interventions.hpp"
#include "metrics.hpp"
#include "train.hpp"

namespace repro {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The saved layers of `mats` (all layers when the spec names none) under "<test>.<name>.layer<l>".
void keep_layers(const Spec& spec, const std::string& prefix, const std::vector<torch::Tensor>& mats, TensorMap& out) {
  for (size_t l = 0; l < mats.size(); ++l) {
    const auto& want = spec.probe.layers;
    if (!want.empty() && std::find(want.begin(), want.end(), static_cast<int64_t>(l)) == want.end()) continue;
    out[prefix + ".layer" + std::to_string(l)] = mats[l].to(torch::kCPU, torch::kFloat).contiguous();
  }
}

void probe_matrices(sdk::Model& model, const Spec& spec, const std::string& test, const sdk::Dataset& data,
                    const torch::Device& device, TensorMap& out) {
  std::vector<int64_t> idx;
  for (auto e : spec.probe.examples)
    if (e < data.inputs.size(0)) idx.push_back(e);
    else log::warn("probe: test '{}' has {} examples; example {} skipped", test, data.inputs.size(0), e);
  if (idx.empty()) return;
  const auto pick = torch::tensor(idx, torch::kInt64);
  const auto tokens = data.inputs.index_select(0, pick);
  torch::NoGradGuard ng;
  model.eval();
  for (const auto& m : spec.probe.matrices) {
    std::vector<torch::Tensor> mats;
    if (m == "mixing") {
      mats = model.mixing_matrices(tokens.to(device));
    } else {
      for (const auto& layer : model.internals(tokens.to(device))) mats.push_back(info_flow_matrix(layer));
    }
    if (mats.empty()) log::warn("probe: the model exposes no {} matrices", m);
    keep_layers(spec, test + "." + m, mats, out);
  }
  out[test + ".example"] = pick;
  out[test + ".inputs"] = tokens;
  for (const auto& [name, t] : data.meta) out[test + ".meta." + name] = t.index_select(0, pick).contiguous();
}

}  // namespace

ProbeOutput probe_cell(const ProbeJob& job) {
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
  const bool autocast = job.device.is_cuda() && cell.settings.precision == "bf16";

  ProbeOutput out;
  json tests = json::object();
  for (size_t i = 0; i < cell.tests.size(); ++i) {
    const auto& ref = cell.tests[i];
    if (job.test_dirs[i].empty()) continue;  // its input is missing: reported as not run
    auto data = load_dataset(job.test_dirs[i]);
    auto ev = evaluate(*model, data, job.device, job.spec.probe.batch_size, autocast);
    json r = split_scores(data, ev);
    r["dataset_key"] = ref.key;
    tests[ref.dataset] = r;
    probe_matrices(*model, job.spec, ref.dataset, data, job.device, out.matrices);
    if (const auto& iv = job.spec.probe.interventions; iv && iv->test == ref.dataset) {
      json m = intervention_metrics(*model, *iv, data, job.device, job.spec.probe.batch_size);
      if (m.contains("subsets"))  // beside each subset's accuracies
        for (auto& [name, v] : m["subsets"].items()) tests[ref.dataset]["subsets"][name].update(v);
      m.erase("subsets");
      tests[ref.dataset].update(m);
      if (m.contains("blocking_agreement"))
        log::info("{}: test {}: interventions: blocking agreement {:.4f} (worst subset {:.4f}), substitution "
                  "agreement {:.4f} (worst {:.4f})", cell.id, ref.dataset, m["blocking_agreement"].get<double>(),
                  m["blocking_agreement_min"].get<double>(), m["substitution_agreement"].get<double>(),
                  m["substitution_agreement_min"].get<double>());
      if (m.contains("control_blocking_agreement"))
        log::info("{}: test {}: interventions: control blocking agreement {:.4f} ({} examples)", cell.id,
                  ref.dataset, m["control_blocking_agreement"].get<double>(), m["control_examples"].get<int64_t>());
    }
    if (r.contains("mc_accuracy"))
      log::info("{}: test {}: multiple-choice acc {:.4f}, acc_norm {:.4f}", cell.id, ref.dataset,
                r["mc_accuracy"].get<double>(), r["mc_accuracy_norm"].get<double>());
    else if (r.contains("perplexity"))
      log::info("{}: test {}: perplexity {:.3f}", cell.id, ref.dataset, r["perplexity"].get<double>());
    else
      log::info("{}: test {}: example acc {:.4f}, query acc {:.4f}, token acc {:.4f}", cell.id, ref.dataset,
                r["example_accuracy"].get<double>(), r["query_accuracy"].get<double>(), r["token_accuracy"].get<double>());
  }
  out.result = {{"tests", tests}};
  out.result["probe_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace repro
