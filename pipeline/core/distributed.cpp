#include "distributed.hpp"

#include <fmt/format.h>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <thread>

#include "error.hpp"
#include "log.hpp"

// Set by CMake when the backends' headers were found (pipeline/CMakeLists.txt says why they may not be).
#ifdef REPRO_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef REPRO_HAVE_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace repro {

namespace {
// PyTorch DDP's defaults: a small first bucket so communication starts early in backward.
constexpr int64_t kBucketBytes = 25 * 1024 * 1024, kFirstBucketBytes = 1024 * 1024;
// Rank 0 may validate an epoch while the others wait in the next collective.
constexpr auto kTimeout = std::chrono::minutes(30);

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0') throw UserError(fmt::format("{}={}: expected an integer", name, v));
  return static_cast<int>(x);
}
}  // namespace

DistConfig DistConfig::from_env() {
  DistConfig c;
  c.world = env_int("WORLD_SIZE", 1);
  c.rank = env_int("RANK", 0);
  c.local_rank = env_int("LOCAL_RANK", 0);
  c.port = env_int("MASTER_PORT", 0);
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) c.host = a;
  return c;
}

void DistConfig::check() const {
  if (world < 1 || rank < 0 || rank >= world)
    throw UserError(fmt::format("data-parallel: rank {} is outside a world of {} ranks", rank, world));
  if (enabled() && (port <= 0 || port > 65535))
    throw UserError(fmt::format("data-parallel: rank {} of {}: no rendezvous port (--master HOST:PORT or MASTER_PORT)",
                                rank, world));
}

std::string data_parallel_unavailable(const torch::Device& device) {
#ifndef REPRO_HAVE_NCCL
  if (device.is_cuda()) return "this build has no NCCL (nccl.h was not found when it was configured)";
#endif
#ifndef REPRO_HAVE_GLOO
  if (!device.is_cuda()) return "this build has no Gloo (install libgloo-dev and reconfigure)";
#endif
  if (!device.is_cuda() && !device.is_cpu()) return "data-parallel runs on cpu or cuda only";
  return "";
}

struct DataParallel::Impl {
  torch::Device device;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::unique_ptr<c10d::Reducer> reducer;

  // All-reduces (or broadcasts from rank 0, when `op` is empty) one tensor in place.
  void collective(torch::Tensor& t, std::optional<c10d::ReduceOp::RedOpType> op) {
    std::vector<at::Tensor> ts{t};
    if (op) {
      c10d::AllreduceOptions o;
      o.reduceOp = c10d::ReduceOp(*op);
      group->allreduce(ts, o)->wait();
    } else {
      group->broadcast(ts)->wait();
    }
  }
};

DataParallel::DataParallel(const DistConfig& config, const torch::Device& device) : config_(config) {
  config.check();
  if (auto why = data_parallel_unavailable(device); !why.empty())
    throw UserError("data-parallel on " + device.str() + ": " + why);
  torch::Device dev = device;
#ifdef REPRO_HAVE_NCCL
  if (device.is_cuda()) {
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(config.local_rank));
    dev = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(config.local_rank));
  }
#endif
  impl_ = std::make_unique<Impl>(Impl{dev, {}, {}, {}});
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(config.port);
  // Under torchrun the agent already serves the store on MASTER_PORT (and says so in this variable).
  const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
  so.isServer = config.rank == 0 && !(agent && std::string(agent) == "True");
  so.numWorkers = static_cast<size_t>(config.world);
  so.waitWorkers = true;
  so.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::minutes(5));
  impl_->store = c10::make_intrusive<c10d::TCPStore>(config.host, so);
  impl_->group = c10::make_intrusive<c10d::ProcessGroup>(impl_->store, config.rank, config.world);
#ifdef REPRO_HAVE_NCCL
  if (dev.is_cuda()) {
    auto o = c10d::ProcessGroupNCCL::Options::create();
    o->timeout = kTimeout;
    auto nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, config.rank, config.world, o);
    impl_->group->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::NCCL, nccl);
    impl_->group->setDefaultBackend(c10d::ProcessGroup::BackendType::NCCL);
  }
#endif
#ifdef REPRO_HAVE_GLOO
  if (dev.is_cpu()) {
    auto o = c10d::ProcessGroupGloo::Options::create(kTimeout);
    // Loopback for a local group; otherwise this host's name, unless GLOO_SOCKET_IFNAME picks an interface.
    const bool local = config.host == "localhost" || config.host.rfind("127.", 0) == 0;
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (local)
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    auto gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, config.rank, config.world, o);
    impl_->group->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, gloo);
    impl_->group->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
  }
#endif
  log::debug("data-parallel: rank {} of {} joined via {}:{} on {}", config.rank, config.world, config.host, config.port,
             dev.str());
}

// An ordered teardown: without it NCCL warns that destroy_process_group() was never called, and a follower's
// NCCL watchdog polls the TCPStore after rank 0, its server, has exited (seen on 2 H200s). So every rank shuts its
// group down, checks in on the store, and rank 0 keeps serving the store until all have checked in. A rank leaving
// on an exception aborts instead: a graceful shutdown could wait forever on a collective its peers never join.
DataParallel::~DataParallel() {
  if (!impl_) return;
  try {
    impl_->reducer.reset();
    if (std::uncaught_exceptions() > 0) {
      impl_->group->abort();
      return;
    }
    impl_->group->shutdown();
    impl_->store->add("repro/exited", 1);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (config_.rank == 0 && impl_->store->add("repro/exited", 0) < config_.world &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } catch (const std::exception& e) {  // a rank that already failed: its error has been reported
    log::debug("data-parallel: teardown of rank {}: {}", config_.rank, e.what());
  }
}

std::pair<int64_t, int64_t> shard_rows(int64_t n, int rank, int world) {
  const int64_t w = world, r = rank, base = n / w, extra = n % w;
  const int64_t begin = r * base + std::min(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

void DataParallel::broadcast_parameters(torch::nn::Module& m) {
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> ts;
  for (auto& p : m.parameters()) ts.push_back(p);
  for (auto& b : m.buffers()) ts.push_back(b);
  if (ts.empty()) return;
  std::vector<torch::Tensor> flat;
  for (auto& t : ts) flat.push_back(t.detach().reshape(-1).to(torch::kFloat64));
  auto all = torch::cat(flat);  // one collective; float64 holds every float32/bf16/int32 value exactly
  impl_->collective(all, std::nullopt);
  int64_t at = 0;
  for (auto& t : ts) {
    t.copy_(all.narrow(0, at, t.numel()).view(t.sizes()));
    at += t.numel();
  }
}

void DataParallel::attach(torch::nn::Module& m) {
  std::vector<at::Tensor> params;
  for (auto& p : m.parameters())
    if (p.requires_grad()) params.push_back(p);
  const std::vector<bool> sparse(params.size(), false);
  auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(
      params, {static_cast<size_t>(kFirstBucketBytes), static_cast<size_t>(kBucketBytes)}, sparse);
  // Gradients arrive roughly in reverse parameter order, so the last parameters go in the first bucket
  // (as DDP orders them): its all-reduce starts while backward still computes the earlier layers.
  std::reverse(buckets.begin(), buckets.end());
  std::reverse(limits.begin(), limits.end());
  std::vector<int64_t> caps(limits.begin(), limits.end());
  // find_unused_parameters off (DDP's default, no graph walk per step): every architecture sends a
  // gradient to every parameter (tests/test_architectures.cpp checks it); one that did not would stop
  // with the reducer's error naming the parameter.
  impl_->reducer = std::make_unique<c10d::Reducer>(params, buckets, impl_->group, sparse, kBucketBytes,
                                                   /*find_unused_parameters=*/false,
                                                   /*gradient_as_bucket_view=*/false,
                                                   std::unordered_map<size_t, std::string>{}, kFirstBucketBytes,
                                                   /*skip_all_reduce_unused_params=*/false,
                                                   /*use_python_reducer=*/false, caps);
}

void DataParallel::prepare_for_backward(const torch::Tensor& loss) {
  if (!impl_->reducer) throw StageError("data-parallel: prepare_for_backward before attach");
  impl_->reducer->prepare_for_backward({loss});
}

double DataParallel::sum(double v) {
  auto t = torch::tensor({v}, torch::dtype(torch::kFloat64).device(impl_->device));
  all_reduce_sum(t);
  return t.item<double>();
}

void DataParallel::all_reduce_sum(torch::Tensor& t) { impl_->collective(t, c10d::ReduceOp::SUM); }

bool DataParallel::leaders_choice(bool v) {
  auto t = torch::tensor({v ? 1 : 0}, torch::dtype(torch::kInt32).device(impl_->device));
  impl_->collective(t, std::nullopt);
  return t.item<int>() != 0;
}

void DataParallel::barrier() { sum(0.0); }  // an all-reduce is a barrier on every backend, NCCL included

void DataParallel::expect_identical(torch::nn::Module& m) {
  torch::NoGradGuard ng;
  if (env_int("REPRO_TEST_DIVERGE_RANK", -1) == config_.rank) m.parameters().front().add_(1e-6);
  std::vector<torch::Tensor> stats;
  std::vector<std::string> names;
  for (const auto& p : m.named_parameters()) {
    auto d = p.value().detach().to(torch::kFloat64);
    stats.push_back(d.sum().reshape(1));
    stats.push_back(d.square().sum().reshape(1));
    names.push_back(p.key());
  }
  if (stats.empty()) return;
  auto lo = torch::cat(stats), hi = lo.clone();
  impl_->collective(lo, c10d::ReduceOp::MIN);
  impl_->collective(hi, c10d::ReduceOp::MAX);
  auto differ = torch::ne(lo, hi).to(torch::kCPU);
  for (int64_t i = 0; i < differ.numel(); ++i)
    if (differ[i].item<bool>())
      throw StageError(fmt::format("data-parallel: ranks diverged: parameter {} differs between ranks (rank {} of {})",
                                   names[static_cast<size_t>(i / 2)], config_.rank, config_.world));
}

}  // namespace repro
