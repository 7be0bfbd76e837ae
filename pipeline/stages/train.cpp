#include "train.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include "../core/crash.hpp"
#include "../core/dataset_io.hpp"
#include "../core/distributed.hpp"
#include "../core/fs.hpp"
#include "../core/log.hpp"
#include "../core/manifest.hpp"
#include "../core/params.hpp"
#include "../core/plugins.hpp"
#include "../core/provenance.hpp"
#include "batches.hpp"
#include "evaluate.hpp"
#include "metrics.hpp"
#include "optimizer.hpp"
#include "progress.hpp"
#include "schedule.hpp"

namespace repro {
namespace fs = std::filesystem;
using json = nlohmann::json;

sdk::ModelShape model_shape(const Spec& spec, const PluginRegistry& plugins, const Cell& cell) {
  // The vocabulary must cover the train set and every test set.
  sdk::ModelShape s{0, 0};
  auto widen = [&](const std::string& id) {
    const auto& d = spec.datasets.at(id);
    auto t = plugins.task(d.task);
    s.vocab_size = std::max(s.vocab_size, t->vocab_size(d.params));
    s.max_seq_len = std::max(s.max_seq_len, t->seq_len(d.params));
  };
  widen(cell.train_dataset);
  for (const auto& t : cell.tests) widen(t.dataset);
  return s;
}

int64_t parameter_count(sdk::Model& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

std::shared_ptr<sdk::Model> build_seeded_model(const PluginRegistry& plugins, const ModelSpec& m,
                                               const sdk::ModelShape& shape, int64_t seed) {
  static std::mutex mu;  // the default generator is global: seed + build must not interleave across cells
  std::lock_guard<std::mutex> lock(mu);
  torch::manual_seed(static_cast<uint64_t>(seed));
  return plugins.build_model(m.architecture, m.config, shape);
}

namespace {

// Serialised in memory, then written by write_file_atomic (temp file, fsync, rename; a failed write throws
// with the path): LibTorch's own file writer ends the process (std::terminate) when a write fails.
void save_archive(torch::serialize::OutputArchive& a, const fs::path& p) {
  std::ostringstream bytes;
  a.save_to(bytes);
  write_file_atomic(p, bytes.str());
}

void save_module(torch::nn::Module& m, const fs::path& p) {
  torch::serialize::OutputArchive a;
  m.save(a);
  save_archive(a, p);
}

// Everything a resumed run needs to continue exactly as an uninterrupted one: the data order is a
// function of (seed, epoch, step), the rest is state.
struct Checkpoint {
  int64_t step = 0;
  double best_valid = INFINITY;
  double loss_acc = 0;  // the running mean of the next metrics line
  int64_t loss_n = 0;
  double last_loss = NAN;
  double wall_seconds = 0;  // training wall time of every process up to this checkpoint
};

json finite_or_null(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }
double number_or(const json& j, double dflt) { return j.is_number() ? j.get<double>() : dflt; }

// Checkpoints are directories ckpt-<step> with a manifest of checksums; LATEST names the newest complete
// one. The metrics log and the best model so far travel in it, so a resumed run restores them as they were.
void write_checkpoint(const fs::path& work, sdk::Model& model, FusedAdamW& opt, const Checkpoint& c) {
  const std::string name = fmt::format("ckpt-{:09}", c.step);
  fs::path tmp = work / (name + ".tmp"), final = work / name;
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  save_module(model, tmp / "model.pt");
  crash_point("ckpt.model", c.step);  // a kill in the middle of writing a checkpoint
  {
    torch::serialize::OutputArchive a;
    opt.save(a);
    save_archive(a, tmp / "optim.pt");
  }
  {
    torch::serialize::OutputArchive a;
    auto gen = at::detail::getDefaultCPUGenerator();
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      a.write("state", gen.get_state());
    }
    save_archive(a, tmp / "rng.pt");
  }
  fs::copy_file(work / "metrics.jsonl", tmp / "metrics.jsonl");
  if (fs::exists(work / "best.pt")) fs::copy_file(work / "best.pt", tmp / "best.pt");
  write_manifest(tmp, {{"step", c.step}, {"best_valid", finite_or_null(c.best_valid)}, {"loss_acc", c.loss_acc},
                       {"loss_n", c.loss_n}, {"last_loss", finite_or_null(c.last_loss)},
                       {"wall_seconds", c.wall_seconds}});
  crash_point("ckpt.rename", c.step);
  fs::remove_all(final);
  fs::rename(tmp, final);
  fsync_path(work);
  crash_point("ckpt.latest", c.step);
  std::string previous;
  if (fs::exists(work / "LATEST")) previous = read_file(work / "LATEST");
  write_file_atomic(work / "LATEST", name);
  crash_point("ckpt.prune", c.step);
  if (!previous.empty() && previous != name) fs::remove_all(work / previous);
}

void clear_dir(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) fs::remove_all(e.path());
}

// The latest checkpoint, verified against its manifest and loaded; nullopt when there is none. A damaged
// one is reported with its path and the work directory cleared: the cell trains again from step 0. Only the
// `owner` (rank 0 of a data-parallel group) touches the work directory; other ranks just load the state.
std::optional<Checkpoint> read_checkpoint(const fs::path& work, sdk::Model& model, FusedAdamW& opt,
                                          bool owner) {
  if (!fs::exists(work / "LATEST")) {
    if (owner) clear_dir(work);  // what a run killed before its first checkpoint left (a partial metrics log)
    return std::nullopt;
  }
  const fs::path dir = work / read_file(work / "LATEST");
  Checkpoint c;
  std::string problem = verify_manifest(dir);
  if (problem.empty()) {
    try {
      const json st = manifest_meta(dir);
      c = {st.at("step").get<int64_t>(), number_or(st.at("best_valid"), INFINITY), st.at("loss_acc").get<double>(),
           st.at("loss_n").get<int64_t>(), number_or(st.at("last_loss"), NAN), st.value("wall_seconds", 0.0)};
    } catch (const std::exception& e) {
      problem = std::string("bad state: ") + e.what();
    }
  }
  if (!problem.empty()) {
    if (!owner) return std::nullopt;
    log::warn("corrupted checkpoint {}: {}; discarding it, the cell trains again from step 0", dir.string(), problem);
    clear_dir(work);
    return std::nullopt;
  }
  // Verified: what follows reads exactly the bytes that were written, so a failure here is a bug and throws.
  torch::serialize::InputArchive a;
  a.load_from((dir / "model.pt").string());
  model.load(a);
  torch::serialize::InputArchive o;
  o.load_from((dir / "optim.pt").string());
  opt.load(o);
  torch::Tensor rng;
  torch::serialize::InputArchive r;
  r.load_from((dir / "rng.pt").string());
  r.read("state", rng);
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng);
  }
  if (!owner) return c;
  fs::copy_file(dir / "metrics.jsonl", work / "metrics.jsonl", fs::copy_options::overwrite_existing);
  fs::remove(work / "best.pt");
  if (fs::exists(dir / "best.pt")) fs::copy_file(dir / "best.pt", work / "best.pt");
  return c;
}

// Appends one JSON line per write; a failed write (full disk) throws instead of leaving a short log.
class MetricsLog {
 public:
  // An empty path logs nothing (a data-parallel rank other than 0).
  explicit MetricsLog(fs::path p) : path_(std::move(p)) {
    if (path_.empty()) return;
    out_.open(path_, std::ios::app);
    check();
  }
  void write(const json& j) {
    if (!out_.is_open()) return;
    out_ << j.dump() << "\n";
    out_.flush();
    check();
  }

 private:
  void check() {
    if (!out_) throw StageError(path_.string() + ": write failed: " + std::strerror(errno));
  }
  fs::path path_;
  std::ofstream out_;
};

// Per-step training losses kept on the device until train_model flushes them: reading each one back would make
// every step wait for the GPU, which for small models costs more than the step itself.
class LossWindow {
 public:
  explicit LossWindow(const torch::Device& d) : buf_(torch::empty({kCapacity}, torch::dtype(torch::kFloat64).device(d))) {}
  int64_t size() const { return n_; }
  bool full() const { return n_ == kCapacity; }
  void push(const torch::Tensor& loss) { buf_[n_++].copy_(loss.detach()); }
  // The losses since the last take, in step order (summed over ranks under data parallelism); empties the window.
  std::vector<double> take(DataParallel* dp) {
    if (n_ == 0) return {};
    auto t = buf_.narrow(0, 0, n_).clone();
    n_ = 0;
    if (dp) dp->all_reduce_sum(t);
    t = t.to(torch::kCPU).contiguous();
    return {t.data_ptr<double>(), t.data_ptr<double>() + t.numel()};
  }

 private:
  static constexpr int64_t kCapacity = 64;
  torch::Tensor buf_;
  int64_t n_ = 0;
};

// Trains the cell's model and commits it (the caller holds the model's lock, or is a follower rank).
fs::path train_model(const TrainJob& job) {
  const Cell& cell = job.cell;
  DataParallel* dp = job.data_parallel;
  const bool leader = !dp || dp->leader();
  const ModelSpec& ms = job.spec.models.at(cell.model);
  const TrainSpec& t = cell.settings;
  const auto t0 = std::chrono::steady_clock::now();
  const auto train = load_dataset(job.train_dir);
  std::optional<sdk::Dataset> valid;
  if (!job.valid_dir.empty()) valid = load_dataset(job.valid_dir);
  std::vector<std::pair<std::string, sdk::Dataset>> tracked;
  if (leader)
    for (const auto& [id, dir] : job.tracked) tracked.emplace_back(id, load_dataset(dir));

  auto shape = model_shape(job.spec, job.plugins, cell);
  auto model = build_seeded_model(job.plugins, ms, shape, cell.seed);
  const int64_t n_params = parameter_count(*model);
  model->to(job.device);
  model->train();
  auto opt = make_adamw(model->parameters(), t.weight_decay, t.beta1, t.beta2);
  const bool autocast = job.device.is_cuda() && t.precision == "bf16";

  const fs::path work = job.store.work_dir("model", cell.model_key);
  Checkpoint ck;
  std::optional<int64_t> resumed_from;
  // Data-parallel: rank 0 reads (or clears) the work directory before the others read it, never while it logs.
  if (dp && !leader) dp->barrier();
  if (auto c = read_checkpoint(work, *model, *opt, leader)) {
    ck = *c;
    resumed_from = ck.step;
    log::info("{}: resuming from checkpoint at step {}", cell.id, ck.step);
  }
  // Wall time of earlier processes (to their last checkpoint) plus this one's; work redone after a kill counts twice.
  const double prior_wall = ck.wall_seconds;
  auto checkpoint = [&] {  // rank 0 alone writes
    if (!leader) return;
    ck.wall_seconds = prior_wall + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    write_checkpoint(work, *model, *opt, ck);
  };
  MetricsLog metrics(leader ? work / "metrics.jsonl" : fs::path());
  if (dp && leader) dp->barrier();
  if (dp) {
    dp->broadcast_parameters(*model);
    dp->attach(*model);  // after loading: the reducer's hooks belong to these parameter tensors
  }

  const int64_t n = train.inputs.size(0), bs = std::min(t.batch_size, n);
  const int64_t steps_per_epoch = static_cast<int64_t>(epoch_batches(train, bs, 0, 0, false).size());
  const int64_t total = steps_per_epoch * t.epochs;
  auto x_all = train.inputs.to(job.device), y_all = train.targets.to(job.device), m_all = train.loss_mask.to(job.device);

  // Test hook: die at this step as if killed (exercises resume without timing-dependent signals).
  const char* stop_env = std::getenv("REPRO_STOP_AFTER_STEP");
  const int64_t stop_after = stop_env ? std::atoll(stop_env) : -1;
  // Test hook: SIGKILL this process at this step, once per cell (a marker in the work directory lets the
  // resumed run pass it), as if a sweep worker were killed mid-cell.
  const char* kill_env = std::getenv("REPRO_KILL_AT_STEP");
  const int64_t kill_at = kill_env ? std::atoll(kill_env) : -1;
  Progress bar(cell.id, total, ck.step);
  LossWindow window(job.device);
  int64_t tokens = 0;
  auto t_log = std::chrono::steady_clock::now();
  // Reads the window's losses (one wait for the GPU per flush, not per step) and books them in step order, as a
  // per-step read would; a non-finite one stops the cell before any checkpoint can hold its effects.
  auto flush = [&] {
    const int64_t first = ck.step - window.size() + 1;
    const auto values = window.take(dp);
    for (size_t i = 0; i < values.size(); ++i) {
      const double lv = dp ? values[i] / dp->loss_scale() : values[i];
      const int64_t s = first + static_cast<int64_t>(i);
      if (!std::isfinite(lv)) {
        bar.finish();
        throw StageError(fmt::format("{}: non-finite loss ({}) at step {} (epoch {}); stopped, the last good "
                                     "checkpoint is kept in {}",
                                     cell.id, lv, s, (s - 1) / steps_per_epoch + 1, work.string()));
      }
      ck.loss_acc += lv;
      ++ck.loss_n;
      ck.last_loss = lv;
    }
    if (!values.empty()) bar.update(ck.step, ck.last_loss, (ck.step - 1) / steps_per_epoch + 1, t.epochs);
  };
  for (int64_t epoch = ck.step / steps_per_epoch; epoch < t.epochs; ++epoch) {
    const auto batches = epoch_batches(train, bs, static_cast<uint64_t>(cell.seed), epoch, t.shuffle);
    // The epoch's row indices go to the device in one copy: a copy from pageable memory waits for the GPU.
    std::vector<torch::Tensor> rows;
    std::vector<int64_t> offset{0};
    for (const auto& bt : batches) rows.push_back(bt.rows), offset.push_back(offset.back() + bt.rows.size(0));
    const auto rows_dev = torch::cat(rows).to(job.device);
    for (int64_t b = ck.step - epoch * steps_per_epoch; b < steps_per_epoch; ++b) {
      auto idx = rows_dev.narrow(0, offset[b], batches[b].rows.size(0));
      auto cut = [&](const torch::Tensor& all) { return all.index_select(0, idx).narrow(1, 0, batches[b].length); };
      auto count = cut(m_all).sum().clamp_min(1);  // the global batch's scored tokens
      if (dp) {
        auto [lo, hi] = dp->shard(idx.size(0));
        idx = idx.slice(0, lo, hi);
      }
      auto x = cut(x_all), y = cut(y_all), m = cut(m_all);
      const double lr = lr_at(t.lr, t.warmup_fraction, t.min_lr_fraction, t.schedule, ck.step, total);
      torch::Tensor loss;
      {
        AutocastGuard ag(autocast);
        torch::Tensor sum;
        if (x.size(0) > 0) {
          sum = masked_ce_sum(model->forward(x), y, m).first;
        } else {  // a rank with no rows of a short batch still joins the reduction, with zero gradients
          sum = torch::zeros({}, torch::dtype(torch::kFloat).device(job.device));
          for (const auto& p : model->parameters()) sum = sum + p.sum().to(torch::kFloat) * 0;
        }
        loss = sum / count;
        if (dp) loss = loss * dp->loss_scale();
      }
      window.push(loss);
      opt->zero_grad();
      if (dp) dp->prepare_for_backward(loss);
      loss.backward();
      clip_gradients(model->parameters(), t.clip, t.grad_clip);
      opt->step(lr);
      ++ck.step;
      crash_point("train.step", ck.step);
      tokens += batches[b].rows.numel() * batches[b].length;  // the global batch, also under data parallelism
      const bool log_due = ck.step % t.log_every == 0;
      const bool ckpt_due = ck.step % t.checkpoint_every == 0 && ck.step % steps_per_epoch != 0;
      if (log_due || ckpt_due || window.full() || b + 1 == steps_per_epoch) flush();
      if (log_due) {
        auto now = std::chrono::steady_clock::now();
        double secs = std::chrono::duration<double>(now - t_log).count();
        metrics.write({{"step", ck.step}, {"epoch", epoch + 1}, {"lr", lr}, {"train_loss", ck.loss_acc / ck.loss_n},
                       {"tokens_per_s", secs > 0 ? tokens / secs : 0}});
        ck.loss_acc = 0, ck.loss_n = 0, tokens = 0, t_log = now;
      }
      if (ckpt_due) checkpoint();
      if (ck.step == kill_at && leader && !fs::exists(work / "killed-once")) {
        write_file_atomic(work / "killed-once", "");
        ::raise(SIGKILL);
      }
      if (ck.step == stop_after) throw StageError(fmt::format("{}: stopped at step {} (REPRO_STOP_AFTER_STEP)", cell.id, ck.step));
    }
    json line = {{"step", ck.step}, {"epoch", epoch + 1}, {"train_loss_last", ck.last_loss}};
    // Fields <prefix>loss, <prefix>query_accuracy, <prefix>example_accuracy of the epoch's line.
    const auto log_eval = [&](const sdk::Dataset& d, const std::string& prefix) {
      auto ev = evaluate(*model, d, job.device, bs, autocast);
      auto acc = score(d, ev.preds);
      line[prefix + "loss"] = ev.loss;
      line[prefix + "query_accuracy"] = acc.query;
      line[prefix + "example_accuracy"] = acc.example;
      return std::pair(ev, acc);
    };
    for (const auto& [id, d] : tracked) log_eval(d, "track." + id + ".");
    if (valid && leader) {
      auto [ev, acc] = log_eval(*valid, "valid_");
      if (ev.loss < ck.best_valid) {
        ck.best_valid = ev.loss;
        if (t.select == "best_valid_loss") save_module(*model, work / "best.pt");
      }
      bar.note(fmt::format("{} epoch {}/{}: train loss {:.4f}, valid loss {:.4f}, valid query acc {:.3f}", cell.id,
                           epoch + 1, t.epochs, ck.last_loss, ev.loss, acc.query));
    }
    metrics.write(line);
    checkpoint();
  }
  bar.finish();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (dp) {
    dp->expect_identical(*model);
    if (!leader) {
      dp->barrier();  // until rank 0 has committed the model
      if (auto d = job.store.find("model", cell.model_key)) return *d;
      throw StageError(fmt::format("{}: rank {}: rank 0 finished but committed no model", cell.id, dp->rank()));
    }
  }

  auto b = job.store.build("model", cell.model_key);
  const bool best = t.select == "best_valid_loss" && fs::exists(work / "best.pt");
  if (best) fs::copy_file(work / "best.pt", b.dir() / "model.pt");
  else save_module(*model, b.dir() / "model.pt");
  json train_set;  // the training set scored by the committed model ([train] score_train)
  if (t.score_train) {
    if (best) {
      torch::serialize::InputArchive a;
      a.load_from((b.dir() / "model.pt").string());
      model->load(a);
      model->to(job.device);
    }
    train_set = split_scores(train, evaluate(*model, train, job.device, bs, autocast));
    log::info("{}: training set ({} examples): example acc {:.4f}, query acc {:.4f}, loss {:.3g}", cell.id, n,
              train_set["example_accuracy"].get<double>(), train_set["query_accuracy"].get<double>(),
              train_set["loss"].get<double>());
  }
  fs::copy_file(work / "metrics.jsonl", b.dir() / "metrics.jsonl");
  json summary = {{"cell", cell.id},
                  {"model", cell.model},
                  {"architecture", ms.architecture},
                  {"config", params_json(ms.config)},
                  {"parameters", n_params},
                  {"vocab_size", shape.vocab_size},
                  {"seq_len", shape.max_seq_len},
                  {"train_examples", n},
                  {"steps", total},
                  {"epochs", t.epochs},
                  {"settings", train_settings_json(t)},
                  {"final_train_loss", ck.last_loss},
                  {"device", device_description(job.device)},
                  {"data_parallel_ranks", dp ? dp->world() : 1},
                  {"wall_seconds", wall},
                  {"wall_seconds_total", prior_wall + wall},
                  {"resumed_from_step", resumed_from ? json(*resumed_from) : json(nullptr)},
                  {"finished_at", utc_now()}};
  if (!train_set.is_null()) summary["train_set"] = train_set;
  write_file_atomic(b.dir() / "train.json", summary.dump(2));
  auto dir = b.commit(summary);
  fs::remove_all(work);
  if (dp) dp->barrier();
  log::info("{}: trained {} params for {} steps in {:.1f}s on {}", cell.id, n_params, total, wall,
            device_description(job.device));
  return dir;
}

}  // namespace

fs::path train_cell(const TrainJob& job) {
  const Cell& cell = job.cell;
  DataParallel* dp = job.data_parallel;
  if (!dp) {
    if (auto d = job.store.find("model", cell.model_key)) return *d;
    auto lock = job.store.lock("model", cell.model_key);
    if (auto d = job.store.find("model", cell.model_key)) return *d;
    return train_model(job);
  }
  // Data-parallel: rank 0 locks and decides; every rank follows its decision.
  if (!dp->leader()) {
    if (dp->leaders_choice(false)) return job.store.find("model", cell.model_key).value_or(fs::path());
    return train_model(job);
  }
  auto lock = job.store.lock("model", cell.model_key);
  auto d = job.store.find("model", cell.model_key);
  if (dp->leaders_choice(d.has_value())) return *d;
  return train_model(job);
}

}  // namespace repro
