#include "step_time.hpp"

#include <chrono>

#ifdef REPRO_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "evaluate.hpp"
#include "optimizer.hpp"

namespace repro {

StepTime measure_train_step(sdk::Model& model, int64_t vocab_size, int64_t batch, int64_t length,
                            const torch::Device& device, const TrainSpec& t, int64_t steps) {
  auto opt = make_adamw(model.parameters(), t.weight_decay, t.beta1, t.beta2);
  const auto ints = torch::TensorOptions().dtype(torch::kInt64).device(device);
  auto x = torch::randint(0, vocab_size, {batch, length}, ints), y = torch::randint(0, vocab_size, {batch, length}, ints);
  auto mask = torch::ones({batch, length}, torch::TensorOptions().dtype(torch::kBool).device(device));
  const bool autocast = device.is_cuda() && t.precision == "bf16";
  torch::Tensor loss;
  auto step = [&] {
    {
      AutocastGuard ag(autocast);
      auto [sum, count] = masked_ce_sum(model.forward(x), y, mask);
      loss = sum / count;
    }
    opt->zero_grad();
    loss.backward();
    clip_gradients(model.parameters(), t.clip, t.grad_clip);
    opt->step(t.lr);
  };
  step(), step();
  loss.item<double>();  // waits for the warm-up
#ifdef REPRO_TORCH_CUDA
  const c10::DeviceIndex gpu = device.has_index() ? device.index() : 0;
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(gpu);
#endif
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t s = 0; s < steps; ++s) step();
  loss.item<double>();  // as the trainer, the steps run ahead of the host; this waits for the last
  StepTime r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(steps);
#ifdef REPRO_TORCH_CUDA
  if (device.is_cuda()) {
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(gpu);
    r.peak_gib = static_cast<double>(stats.allocated_bytes[0].peak) / (1 << 30);
  }
#endif
  return r;
}

}  // namespace repro
