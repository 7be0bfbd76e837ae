// The train stage's fused AdamW and clipping against LibTorch's own torch::optim::AdamW and clip_grad_norm_
// (the reference: the same update rule, launched per parameter), on CPU and, when present, CUDA.
#include <gtest/gtest.h>

#include <sstream>

#include "stages/optimizer.hpp"

using namespace repro;

namespace {
struct Net {
  torch::Tensor w, b, frozen;  // a matrix (decayed), a vector (not), a parameter that never gets a gradient
  std::vector<torch::Tensor> all() const { return {w, b, frozen}; }
};

Net make_net(const torch::Device& d) {
  torch::manual_seed(3);
  return {torch::randn({8, 5}).to(d).requires_grad_(), torch::randn({5}).to(d).requires_grad_(),
          torch::randn({3}).to(d).requires_grad_()};
}

// A step's gradients: a fixed function of the weights and the step, large enough for clipping to bite.
void backward(const Net& n, int step) {
  torch::manual_seed(100 + step);
  auto x = torch::randn({16, 8}, n.w.options().requires_grad(false));
  auto y = torch::tanh(torch::matmul(x, n.w) + n.b);
  (y * y * 40).sum().backward();
}

void expect_close(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b, double tol) {
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(torch::allclose(a[i].cpu(), b[i].cpu(), tol, tol)) << "parameter " << i << ": max |diff| "
        << (a[i].cpu() - b[i].cpu()).abs().max().item<double>();
}

void matches_libtorch(const torch::Device& d) {
  Net ours = make_net(d), ref = make_net(d);
  const double wd = 0.1, max_norm = 1.0;
  FusedAdamW opt({{{ours.w}, wd}, {{ours.b, ours.frozen}, 0.0}}, 0.9, 0.95);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{ref.w},
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(1).betas({0.9, 0.95}).weight_decay(wd)));
  groups.emplace_back(std::vector<torch::Tensor>{ref.b, ref.frozen},
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(1).betas({0.9, 0.95}).weight_decay(0)));
  torch::optim::AdamW lib(std::move(groups), torch::optim::AdamWOptions(1));
  const auto frozen_before = ours.frozen.detach().clone();
  for (int step = 0; step < 12; ++step) {
    const double lr = 1e-2 * (1 + step % 3);
    opt.zero_grad(), lib.zero_grad();
    backward(ours, step), backward(ref, step);
    clip_grad_norm(ours.all(), max_norm);
    torch::nn::utils::clip_grad_norm_(ref.all(), max_norm);
    expect_close({ours.w.grad(), ours.b.grad()}, {ref.w.grad(), ref.b.grad()}, 1e-6);
    opt.step(lr);
    for (auto& g : lib.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    lib.step();
  }
  expect_close(ours.all(), ref.all(), 1e-5);
  EXPECT_TRUE(torch::equal(ours.frozen.detach(), frozen_before)) << "a parameter without a gradient moved";
}
}  // namespace

TEST(Optimizer, FusedAdamWMatchesLibTorchAdamWOnCpu) { matches_libtorch(torch::kCPU); }

TEST(Optimizer, FusedAdamWMatchesLibTorchAdamWOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  matches_libtorch(torch::Device(torch::kCUDA, 0));
}

TEST(Optimizer, SavedStateContinuesExactly) {
  // Uninterrupted 6 steps == 3 steps, save, load into a fresh optimizer, 3 more steps: bit for bit.
  auto run = [](bool reload) {
    Net n = make_net(torch::kCPU);
    auto opt = std::make_unique<FusedAdamW>(std::vector<FusedAdamW::Group>{{{n.w}, 0.1}, {{n.b, n.frozen}, 0.0}}, 0.9, 0.999);
    for (int step = 0; step < 6; ++step) {
      if (reload && step == 3) {
        torch::serialize::OutputArchive out;
        opt->save(out);
        std::ostringstream bytes;
        out.save_to(bytes);
        opt = std::make_unique<FusedAdamW>(std::vector<FusedAdamW::Group>{{{n.w}, 0.1}, {{n.b, n.frozen}, 0.0}}, 0.9, 0.999);
        torch::serialize::InputArchive in;
        std::istringstream read(bytes.str());
        in.load_from(read);
        opt->load(in);
      }
      opt->zero_grad();
      backward(n, step);
      opt->step(1e-2);
    }
    return n.all();
  };
  auto a = run(false), b = run(true);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
}

TEST(Optimizer, ClipLeavesSmallGradientsAlone) {
  auto p = torch::ones({4}).requires_grad_();
  p.mutable_grad() = torch::full({4}, 0.1);
  clip_grad_norm({p}, 1.0);  // norm 0.2 < 1
  EXPECT_TRUE(torch::allclose(p.grad(), torch::full({4}, 0.1)));
  p.mutable_grad() = torch::full({4}, 3.0);
  clip_grad_norm({p}, 1.0);  // norm 6 -> 1
  EXPECT_NEAR(p.grad().norm().item<double>(), 1.0, 1e-5);
}
