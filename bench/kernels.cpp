// repro-bench-kernels [--json FILE] [--iters N]: our CUDA kernels against the pure-LibTorch paths they replace,
// at the Mamba-130M layer shape (B=64, L=512, d_inner=1536, d_state=16) and a long one (B=16, L=2048).
// Times are medians of N runs (CUDA events) after 3 warm-ups; backward is torch::autograd::grad on a retained
// graph (no accumulation into .grad). "Minimal bytes" is what any implementation must move through HBM at
// least once: forward reads x, delta, z, B, C and writes y; backward also reads dy and writes dx, ddelta, dz,
// dB, dC (A, D and the bias are negligible). Achieved bandwidth = minimal bytes / time, as a share of the
// device's HBM peak from its datasheet (H100 SXM 3.35 TB/s, H200 4.8 TB/s).
#include <ATen/cuda/CUDAContext.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <repro/kernels.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>

#include "core/provenance.hpp"
#include "kernels/info.hpp"
#include "mamba/scan.hpp"
#include "rwkv/wkv.hpp"

using torch::Tensor;

namespace {

int iters = 20;

double median_ms(const std::function<void()>& f) {
  for (int i = 0; i < 3; ++i) f();
  auto stream = at::cuda::getCurrentCUDAStream().stream();
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    cudaEventRecord(a, stream);
    f();
    cudaEventRecord(b, stream);
    cudaEventSynchronize(b);
    float t = 0;
    cudaEventElapsedTime(&t, a, b);
    ms.push_back(t);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

double hbm_peak(const std::string& name) {
  if (name.find("H200") != std::string::npos) return 4.8e12;
  if (name.find("H100") != std::string::npos) return 3.35e12;
  return 0;
}

struct Timing {
  double fwd, bwd;
};

// `fwd` runs with every leaf requiring grad (as in training); backward reuses one retained graph.
Timing time_fwd_bwd(const std::function<Tensor()>& fwd, const std::vector<Tensor>& leaves) {
  const double f = median_ms([&] { fwd(); });
  auto y = fwd();
  auto gy = torch::randn_like(y);
  const double b = median_ms([&] { torch::autograd::grad({y}, leaves, {gy}, /*retain_graph=*/true); });
  return {f, b};
}

nlohmann::json row(const std::string& what, const std::string& impl, const Timing& t, double fwd_bytes,
                   double bwd_bytes, double peak) {
  auto pct = [&](double bytes, double ms) { return peak > 0 ? 100.0 * bytes / (ms * 1e-3) / peak : 0.0; };
  fmt::print("{:<44} {:<22} {:>8.3f} {:>8.3f} {:>8.3f} {:>7.1f}% {:>7.1f}% {:>7.1f}%\n", what, impl, t.fwd, t.bwd,
             t.fwd + t.bwd, pct(fwd_bytes, t.fwd), pct(bwd_bytes, t.bwd), pct(fwd_bytes + bwd_bytes, t.fwd + t.bwd));
  return {{"case", what},
          {"impl", impl},
          {"fwd_ms", t.fwd},
          {"bwd_ms", t.bwd},
          {"total_ms", t.fwd + t.bwd},
          {"fwd_hbm_pct", pct(fwd_bytes, t.fwd)},
          {"bwd_hbm_pct", pct(bwd_bytes, t.bwd)},
          {"total_hbm_pct", pct(fwd_bytes + bwd_bytes, t.fwd + t.bwd)},
          {"min_bytes_fwd", fwd_bytes},
          {"min_bytes_bwd", bwd_bytes}};
}

nlohmann::json bench_scan(int64_t B, int64_t L, int64_t D, int64_t N, torch::ScalarType dt, double peak) {
  const auto cu = torch::TensorOptions().device(torch::kCUDA);
  auto leaf = [](Tensor t) { return t.requires_grad_(true); };
  auto x = leaf(torch::randn({B, L, D}, cu).to(dt)), z = leaf(torch::randn({B, L, D}, cu).to(dt));
  auto Bm = leaf(torch::randn({B, L, N}, cu).to(dt)), Cm = leaf(torch::randn({B, L, N}, cu).to(dt));
  auto delta = leaf(torch::randn({B, L, D}, cu) * 0.5 - 1);
  auto A = leaf(-torch::exp(torch::randn({D, N}, cu) * 0.3)), Dk = leaf(torch::randn({D}, cu));
  auto bias = leaf(torch::randn({D}, cu) * 0.1);
  const double s = dt == torch::kBFloat16 ? 2 : 4, bld = double(B * L * D), bln = double(B * L * N);
  const double fwd_bytes = bld * (3 * s + 4) + 2 * bln * s;                   // x z B C delta in, y out
  const double bwd_bytes = fwd_bytes + bld * s + bld * (2 * s + 4) + 2 * bln * s;  // + dy in, dx dz ddelta dB dC out
  const std::string what = fmt::format("selective_scan B={} L={} D={} N={} {}", B, L, D, N,
                                       dt == torch::kBFloat16 ? "bf16" : "fp32");
  std::vector<Tensor> leaves{x, delta, A, Bm, Cm, Dk, z, bias};
  nlohmann::json out = nlohmann::json::array();
  namespace k = repro::kernels;  // the build REPRO_SCAN_STAGING and REPRO_SCAN_BWD select (kernels/info.hpp)
  const std::string ours = fmt::format("ours ({}:{})", k::scan_quads_wanted() ? "quads" : "elements",
                                       k::scan_bwd_build_name(k::scan_bwd_build()));
  out.push_back(row(what, ours, time_fwd_bwd([&] {
    return repro::kernels::selective_scan(x, delta, A, Bm, Cm, Dk, z, bias, true);
  }, leaves), fwd_bytes, bwd_bytes, peak));
  out.push_back(row(what, "LibTorch parallel scan", time_fwd_bwd([&] {
    auto dl = torch::softplus(delta + bias);
    return (mamba::scan_parallel(x, dl, A, Bm, Cm, Dk) * torch::silu(z.to(torch::kFloat))).to(dt);
  }, leaves), fwd_bytes, bwd_bytes, peak));
  return out;
}

nlohmann::json bench_conv(int64_t B, int64_t L, int64_t C, int64_t K, torch::ScalarType dt, double peak) {
  const auto cu = torch::TensorOptions().device(torch::kCUDA);
  auto x = torch::randn({B, L, C}, cu).to(dt).requires_grad_(true);
  auto w = torch::randn({C, K}, cu).requires_grad_(true), b = torch::randn({C}, cu).requires_grad_(true);
  const double s = dt == torch::kBFloat16 ? 2 : 4, blc = double(B * L * C);
  const std::string what = fmt::format("causal_conv1d+SiLU B={} L={} C={} K={} {}", B, L, C, K,
                                       dt == torch::kBFloat16 ? "bf16" : "fp32");
  auto libtorch = [&]() -> Tensor {
    auto wt = w.unsqueeze(1).to(dt);
    const std::vector<int64_t> one{1}, zero{0};
    auto y = torch::conv1d(torch::constant_pad_nd(x.transpose(1, 2), {K - 1, 0}), wt, b.to(dt), one, zero, one, C);
    return torch::silu(y).transpose(1, 2);
  };
  // The FFT form (circular convolution of length 2L is linear and causal on the first L), timed only: the mamba
  // plugin's causal_fft also flips the weight to match conv1d's correlation, which costs the same.
  auto fft = [&]() -> Tensor {
    auto xf = torch::fft::rfft(x.transpose(1, 2).to(torch::kFloat), 2 * L);
    auto wf = torch::fft::rfft(w, 2 * L);
    auto y = torch::fft::irfft(xf * wf, 2 * L).narrow(-1, 0, L) + b.unsqueeze(-1);
    return torch::silu(y).transpose(1, 2).to(dt);
  };
  nlohmann::json out = nlohmann::json::array();
  if (K <= 4)
    out.push_back(row(what, "ours (fused)", time_fwd_bwd([&] { return repro::kernels::causal_conv1d(x, w, b, true); },
                                                          {x, w, b}), 2 * blc * s, 3 * blc * s + blc * s, peak));
  out.push_back(row(what, "LibTorch conv1d (cuDNN)", time_fwd_bwd(libtorch, {x, w, b}), 2 * blc * s, 4 * blc * s, peak));
  if (K > 4) out.push_back(row(what, "LibTorch FFT conv", time_fwd_bwd(fft, {x, w, b}), 2 * blc * s, 4 * blc * s, peak));
  return out;
}

nlohmann::json bench_wkv(int64_t B, int64_t L, int64_t C, double peak) {
  const auto cu = torch::TensorOptions().device(torch::kCUDA);
  auto w = (-torch::exp(torch::randn({C}, cu))).detach().requires_grad_(true);
  auto u = torch::randn({C}, cu).requires_grad_(true);
  auto k = torch::randn({B, L, C}, cu).requires_grad_(true), v = torch::randn({B, L, C}, cu).requires_grad_(true);
  const double blc = double(B * L * C) * 4;
  const std::string what = fmt::format("wkv4 B={} L={} C={} fp32", B, L, C);
  nlohmann::json out = nlohmann::json::array();
  out.push_back(row(what, "ours (fused)", time_fwd_bwd([&] { return repro::kernels::wkv4(w, u, k, v); }, {w, u, k, v}),
                    3 * blc, 6 * blc, peak));
  out.push_back(row(what, "LibTorch parallel (chunk 16)",
                    time_fwd_bwd([&] { return rwkv::wkv_parallel(w, u, k, v, 16); }, {w, u, k, v}), 3 * blc, 6 * blc,
                    peak));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--json")) json_path = argv[i + 1];
    else if (!std::strcmp(argv[i], "--iters")) iters = std::atoi(argv[i + 1]);
  }
  if (!torch::cuda::is_available() || !repro::kernels::find("repro::selective_scan")) {
    fmt::print(stderr, "repro-bench-kernels: needs a CUDA device and a build with nvcc\n");
    return 2;
  }
  const auto dev = torch::Device(torch::kCUDA, 0);
  const std::string name = at::cuda::getDeviceProperties(0)->name;
  const double peak = hbm_peak(name);
  fmt::print("{}; HBM peak {:.2f} TB/s; median of {} runs; times in ms\n", repro::device_description(dev), peak / 1e12,
             iters);
  fmt::print("{:<44} {:<22} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}\n", "case", "implementation", "fwd", "bwd", "total",
             "fwd HBM", "bwd HBM", "tot HBM");
  nlohmann::json rows = nlohmann::json::array();
  auto add = [&](const nlohmann::json& r) {
    for (const auto& x : r) rows.push_back(x);
  };
  for (auto dt : {torch::kBFloat16, torch::kFloat}) {
    add(bench_scan(64, 512, 1536, 16, dt, peak));
    add(bench_scan(16, 2048, 1536, 16, dt, peak));
  }
  add(bench_scan(2048, 9, 64, 128, torch::kFloat, peak));  // the Achilles composite task's Mamba (per layer)
  add(bench_scan(1024, 29, 256, 128, torch::kFloat, peak));  // the inverse-matching Mamba (17-32 steps: 32-step segment)
  add(bench_conv(64, 512, 1536, 4, torch::kBFloat16, peak));
  add(bench_conv(64, 512, 1536, 128, torch::kBFloat16, peak));  // Global Selection's long conv at L = 512
  add(bench_wkv(64, 512, 1024, peak));
  if (!json_path.empty()) {
    nlohmann::json doc = {{"device", repro::device_description(dev)},
                          {"hbm_peak_bytes_per_s", peak},
                          {"versions", repro::library_versions()},
                          {"git", repro::git_revision()},
                          {"iters", iters},
                          {"rows", rows}};
    std::ofstream(json_path) << doc.dump(2) << "\n";
  }
  return 0;
}
