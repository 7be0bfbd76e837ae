// Data-parallel training of one cell over LibTorch's c10d: a TCPStore rendezvous, ProcessGroupGloo on
// CPU or ProcessGroupNCCL on CUDA, and c10d::Reducer — the engine under PyTorch's
// DistributedDataParallel — which all-reduces gradients in buckets while backward is still running.
// Every rank sees the whole global batch and trains on its contiguous share of its rows; the loss is
// normalised by the global batch's token count, so the reduced gradient is the single-process one.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>

namespace repro {

struct DistConfig {
  int rank = 0, world = 1;
  std::string host = "127.0.0.1";  // where rank 0's TCPStore listens
  int port = 0;
  int local_rank = 0;  // CUDA device index on this host (0 when CUDA_VISIBLE_DEVICES pins one GPU)
  bool enabled() const { return world > 1; }
  // torchrun's variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, LOCAL_RANK), so `torchrun
  // --no-python repro train …` or any launcher that sets them works; world 1 when WORLD_SIZE is unset.
  static DistConfig from_env();
  void check() const;  // UserError on a rank outside [0, world) or a missing port
};

// Rank `rank`'s rows [begin, end) of a global batch of n rows: contiguous, sizes differ by at most one,
// empty when n < world.
std::pair<int64_t, int64_t> shard_rows(int64_t n, int rank, int world);

// Whether this build can run data-parallel on `device` ("gloo"/"nccl" compiled in), and why not.
std::string data_parallel_unavailable(const torch::Device& device);

class DataParallel {
 public:
  // Joins the group (blocks until every rank has arrived). On CUDA, selects cuda:local_rank first.
  DataParallel(const DistConfig& config, const torch::Device& device);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const { return config_.rank; }
  int world() const { return config_.world; }
  bool leader() const { return config_.rank == 0; }  // the only rank that writes anything

  // This rank's rows of a global batch of n rows.
  std::pair<int64_t, int64_t> shard(int64_t n) const { return shard_rows(n, config_.rank, config_.world); }
  // The reducer averages over ranks; a rank's loss is its share of the global sum divided by the
  // global count, times this factor, so the average is the global-batch gradient.
  double loss_scale() const { return static_cast<double>(config_.world); }

  void broadcast_parameters(torch::nn::Module& m);  // rank 0's values everywhere (as DDP does at start)
  // Registers the reducer's autograd hooks on m's parameters (after any checkpoint is loaded).
  void attach(torch::nn::Module& m);
  void prepare_for_backward(const torch::Tensor& loss);  // before every backward()

  double sum(double v);           // all-reduce
  void all_reduce_sum(torch::Tensor& t);  // in place; t on this rank's device
  bool leaders_choice(bool v);    // rank 0's value on every rank
  void barrier();
  // StageError unless every rank holds bit-identical parameters (compares per-tensor sums and sums of
  // squares in float64 by all-reduce MIN/MAX). Test hook: REPRO_TEST_DIVERGE_RANK=r perturbs rank r first.
  void expect_identical(torch::nn::Module& m);

 private:
  struct Impl;
  DistConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace repro
