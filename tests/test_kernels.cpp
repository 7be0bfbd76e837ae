// Our CUDA kernels (kernels/, reached through <repro/kernels.hpp>) against fp64 references written here in plain
// LibTorch: outputs and every gradient, at lengths that do and do not divide the kernels' segments (16, 32,
// 64 steps) and sub-chunk (8), batch 1, d_state 16/32/64/128 (the compiled ones), fp32 and bf16, strided (narrowed) inputs, and extreme WKV inputs.
// Skipped without CUDA. Tolerances: relative max error 2e-4 in fp32 (the kernels use the hardware's fast exp),
// 3e-2 in bf16 (inputs rounded to bf16 for both sides; the kernels keep fp32 state and accumulate in fp32).
#include <ATen/cuda/CUDAContext.h>
#include <fmt/format.h>
#include <kernels/info.hpp>
#include <repro/kernels.hpp>

#include <cstdlib>
#include <stdexcept>

#include "support.hpp"

using namespace repro;
using torch::Tensor;

namespace {

bool have_kernels() { return torch::cuda::is_available() && kernels::find("repro::selective_scan").has_value(); }

// max |a - b| / max |b|, in double on the CPU.
double rel(const Tensor& a, const Tensor& b) {
  auto x = a.detach().cpu().to(torch::kDouble), y = b.detach().cpu().to(torch::kDouble);
  return (x - y).abs().max().item<double>() / std::max(y.abs().max().item<double>(), 1e-30);
}

// Leaves on the CPU in fp64 holding the same values as the kernel's inputs, for the reference.
std::vector<Tensor> fp64_leaves(const std::vector<Tensor>& ts) {
  std::vector<Tensor> out;
  for (const auto& t : ts)
    out.push_back(t.defined() ? t.detach().cpu().to(torch::kDouble).requires_grad_(true) : Tensor());
  return out;
}

// The selective scan step by step in fp64 (the definition in <repro/kernels.hpp>).
Tensor scan_reference(const Tensor& x, const Tensor& delta, const Tensor& A, const Tensor& Bm, const Tensor& Cm,
                      const Tensor& D, const Tensor& z, const Tensor& bias) {
  auto dt = torch::softplus(delta + bias);
  auto h = torch::zeros({x.size(0), x.size(2), A.size(1)}, x.options());
  std::vector<Tensor> ys;
  for (int64_t t = 0; t < x.size(1); ++t) {
    auto d = dt.select(1, t).unsqueeze(-1);  // [B, D, 1]
    h = torch::exp(d * A) * h + d * x.select(1, t).unsqueeze(-1) * Bm.select(1, t).unsqueeze(1);
    ys.push_back((h * Cm.select(1, t).unsqueeze(1)).sum(-1));
  }
  auto y = torch::stack(ys, 1) + x * D;
  return z.defined() ? y * torch::silu(z) : y;
}

struct ScanCase {
  int64_t batch, length, channels, states;
  torch::ScalarType dtype;
  bool gate;
};

// R: where B starts in its projection (3: rows not aligned to four elements; 4: aligned, as in the Mamba mixer).
void check_scan(const ScanCase& c, int64_t R = 3) {
  SCOPED_TRACE(fmt::format("B={} L={} D={} N={} {} gate={} R={}", c.batch, c.length, c.channels, c.states,
                           c.dtype == torch::kBFloat16 ? "bf16" : "fp32", c.gate, R));
  torch::manual_seed(c.length * 7 + c.states);
  const auto cu = torch::TensorOptions().device(torch::kCUDA);
  const int64_t B = c.batch, L = c.length, D = c.channels, N = c.states;
  // B and C as narrow()ed views of one projection, z of another: the kernels read strided rows in place.
  auto proj = torch::randn({B, L, R + 2 * N}, cu).to(c.dtype);
  auto xz = torch::randn({B, L, 2 * D}, cu).to(c.dtype);
  auto x = xz.narrow(2, 0, D).detach().requires_grad_(true);
  auto z = c.gate ? xz.narrow(2, D, D).detach().requires_grad_(true) : Tensor();
  auto Bm = proj.narrow(2, R, N).detach().requires_grad_(true), Cm = proj.narrow(2, R + N, N).detach().requires_grad_(true);
  auto delta = (torch::randn({B, L, D}, cu) * 0.5 - 1.0).requires_grad_(true);
  auto A = (-torch::exp(torch::randn({D, N}, cu) * 0.5)).requires_grad_(true);
  auto Dk = torch::randn({D}, cu).requires_grad_(true), bias = (torch::randn({D}, cu) * 0.3).requires_grad_(true);
  auto y = kernels::selective_scan(x, delta, A, Bm, Cm, Dk, z.defined() ? std::optional<Tensor>(z) : std::nullopt,
                                   bias, true);
  ASSERT_TRUE(y.defined());
  EXPECT_EQ(y.scalar_type(), c.dtype);
  auto gy = torch::randn_like(y, torch::kFloat).to(c.dtype);
  y.backward(gy);

  auto r = fp64_leaves({x, delta, A, Bm, Cm, Dk, z, bias});
  auto ry = scan_reference(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
  ry.backward(gy.cpu().to(torch::kDouble));
  const double tol = c.dtype == torch::kBFloat16 ? 3e-2 : 2e-4;
  EXPECT_LT(rel(y, ry), tol) << "y";
  const char* names[] = {"x", "delta", "A", "B", "C", "D", "z", "delta_bias"};
  std::vector<Tensor> ours = {x, delta, A, Bm, Cm, Dk, z, bias};
  for (size_t i = 0; i < ours.size(); ++i)
    if (ours[i].defined()) EXPECT_LT(rel(ours[i].grad(), r[i].grad()), tol) << "d" << names[i];
}

}  // namespace

// The kernels carry machine code for this GPU: before CUDA_ARCHITECTURES was set on them they were built for
// nvcc's default (sm_75 + PTX) and JIT-compiled by the driver at every process start on the H100.
TEST(KernelsCuda, CompiledForThisGpu) {
  if (!have_kernels()) GTEST_SKIP() << "no CUDA or no kernels";
  const auto* prop = at::cuda::getCurrentDeviceProperties();
  const std::string sm = fmt::format("sm_{}{}", prop->major, prop->minor), built = kernels::describe();
  EXPECT_NE(built.find(sm), std::string::npos) << "this GPU is " << sm << "; the kernels hold: " << built;
}

TEST(KernelsCuda, SelectiveScanMatchesReferenceInValueAndGradient) {
  if (!have_kernels()) GTEST_SKIP() << "no CUDA device or built without nvcc";
  // Lengths around each staged segment's size (16 and 32 steps) and over several segments.
  for (int64_t L : {1, 7, 16, 17, 29, 32, 33, 64, 65, 200}) check_scan({2, L, 40, 16, torch::kFloat, true});
  check_scan({1, 130, 64, 32, torch::kFloat, false});
  check_scan({1, 96, 24, 64, torch::kFloat, true});
  check_scan({3, 77, 33, 16, torch::kFloat, true});
  check_scan({2, 150, 64, 16, torch::kBFloat16, true});
  check_scan({1, 70, 32, 64, torch::kBFloat16, false});
  // d_state 128 (the Achilles specs' Mamba): one channel per warp, the staged segment in dynamic shared memory.
  check_scan({3, 9, 64, 128, torch::kFloat, true});
  check_scan({2, 29, 16, 128, torch::kBFloat16, true});  // the inverse-matching task's length
  check_scan({1, 130, 20, 128, torch::kFloat, false});   // several 32-step segments at d_state 128
  check_scan({2, 65, 8, 128, torch::kBFloat16, true});
}

// REPRO_SCAN_STAGING=quads (staging four elements per load; the default): the same checks where every input is
// aligned to four elements, and the element-wise fallback where one is not or where =elements asks for it —
// counted, so that a case that silently took the other path fails.
TEST(KernelsCuda, SelectiveScanQuadStagingMatchesReference) {
  if (!have_kernels()) GTEST_SKIP() << "no CUDA device or built without nvcc";
  setenv("REPRO_SCAN_STAGING", "quads", 1);
  const int64_t before = kernels::scan_quad_launches();
  for (int64_t L : {7, 16, 17, 33, 65}) check_scan({2, L, 40, 16, torch::kFloat, true}, 4);
  check_scan({2, 150, 64, 16, torch::kBFloat16, true}, 4);
  check_scan({1, 96, 24, 64, torch::kFloat, true}, 4);
  check_scan({1, 70, 32, 32, torch::kBFloat16, false}, 4);
  check_scan({2, 29, 16, 128, torch::kBFloat16, true}, 4);
  check_scan({1, 130, 20, 128, torch::kFloat, false}, 4);
  const int64_t quads = kernels::scan_quad_launches() - before;
  EXPECT_EQ(quads, 2 * 10) << "each aligned case's forward and backward stage in quads";
  check_scan({3, 77, 33, 16, torch::kFloat, true}, 4);     // 33 channels
  check_scan({2, 40, 40, 16, torch::kBFloat16, true}, 3);  // B and C at an odd offset
  EXPECT_EQ(kernels::scan_quad_launches() - before, quads) << "unaligned inputs fall back to element-wise staging";
  setenv("REPRO_SCAN_STAGING", "elements", 1);
  check_scan({2, 150, 64, 16, torch::kBFloat16, true}, 4);
  EXPECT_EQ(kernels::scan_quad_launches() - before, quads) << "=elements stages element-wise, aligned or not";
  unsetenv("REPRO_SCAN_STAGING");
}

// REPRO_SCAN_BWD (the d_state-16 backward's three builds, kernels/info.hpp): each against the reference at lengths
// around its sub-chunks (4 or 8 steps) and segments (16, 32), element-wise and quad-staged, fp32 and bf16 — counted,
// so that a case that silently ran another build fails; d_state 32 has one build and counts for none.
TEST(KernelsCuda, SelectiveScanBackwardBuildsMatchReference) {
  if (!have_kernels()) GTEST_SKIP() << "no CUDA device or built without nvcc";
  using kernels::ScanBwdBuild;
  auto total = [] {
    int64_t n = 0;
    for (int i = 0; i < kernels::kScanBwdBuilds; ++i) n += kernels::scan_bwd_launches(static_cast<ScanBwdBuild>(i));
    return n;
  };
  for (auto b : {ScanBwdBuild::regs, ScanBwdBuild::smem5, ScanBwdBuild::smem6}) {
    SCOPED_TRACE(kernels::scan_bwd_build_name(b));
    setenv("REPRO_SCAN_BWD", kernels::scan_bwd_build_name(b), 1);
    const int64_t before = kernels::scan_bwd_launches(b), all = total();
    for (int64_t L : {1, 3, 4, 5, 9, 16, 17, 29, 32, 33, 65, 200}) check_scan({2, L, 40, 16, torch::kFloat, true});
    check_scan({3, 77, 33, 16, torch::kFloat, true});
    check_scan({2, 150, 64, 16, torch::kBFloat16, true});
    check_scan({1, 70, 32, 16, torch::kBFloat16, false});
    setenv("REPRO_SCAN_STAGING", "elements", 1);
    check_scan({2, 150, 64, 16, torch::kBFloat16, true}, 4);  // aligned, staged element-wise
    unsetenv("REPRO_SCAN_STAGING");
    check_scan({2, 37, 40, 16, torch::kFloat, false}, 4);      // aligned: quads
    check_scan({1, 70, 32, 32, torch::kFloat, true});
    EXPECT_EQ(kernels::scan_bwd_launches(b) - before, 17) << "each d_state-16 case's backward ran this build";
    EXPECT_EQ(total() - all, 17) << "and no other";
  }
  unsetenv("REPRO_SCAN_BWD");
}

// The two switches of the scan's build (kernels/info.hpp), read without a GPU: their defaults, every value, and a
// one-line error naming the variable for anything else.
TEST(Kernels, ScanBuildSwitchesParseTheirValues) {
  using kernels::ScanBwdBuild;
  unsetenv("REPRO_SCAN_STAGING");
  unsetenv("REPRO_SCAN_BWD");
  EXPECT_TRUE(kernels::scan_quads_wanted()) << "unset: quads";
  EXPECT_EQ(kernels::scan_bwd_build(), ScanBwdBuild::smem6) << "unset: smem6";
  setenv("REPRO_SCAN_STAGING", "elements", 1);
  EXPECT_FALSE(kernels::scan_quads_wanted());
  setenv("REPRO_SCAN_STAGING", "quads", 1);
  EXPECT_TRUE(kernels::scan_quads_wanted());
  setenv("REPRO_SCAN_STAGING", "quad", 1);
  try {
    kernels::scan_quads_wanted();
    ADD_FAILURE() << "REPRO_SCAN_STAGING=quad was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "REPRO_SCAN_STAGING: expected quads or elements, got 'quad'");
  }
  unsetenv("REPRO_SCAN_STAGING");
  for (auto b : {ScanBwdBuild::regs, ScanBwdBuild::smem5, ScanBwdBuild::smem6}) {
    setenv("REPRO_SCAN_BWD", kernels::scan_bwd_build_name(b), 1);
    EXPECT_EQ(kernels::scan_bwd_build(), b) << kernels::scan_bwd_build_name(b);
  }
  setenv("REPRO_SCAN_BWD", "smem7", 1);
  EXPECT_THROW(kernels::scan_bwd_build(), std::invalid_argument);
  unsetenv("REPRO_SCAN_BWD");
}

// The SDK asks the kernels library which d_state values the scan is compiled for (once a second list in the SDK
// header left d_state 128 on the LibTorch path). Runs without a GPU: the query takes no tensors.
TEST(Kernels, SdkAsksTheLibraryWhichStatesAreCompiled) {
  if (!kernels::find("repro::selective_scan")) GTEST_SKIP() << "built without nvcc";
  for (int n : {16, 32, 64, 128}) EXPECT_TRUE(kernels::selective_scan_supports(n)) << n;
  for (int n : {-16, 0, 1, 8, 12, 48, 256, 1 << 20}) EXPECT_FALSE(kernels::selective_scan_supports(n)) << n;
}

TEST(KernelsCuda, SelectiveScanForwardOnlyAndUnsupportedStates) {
  if (!have_kernels()) GTEST_SKIP() << "no CUDA device or built without nvcc";
  const auto cu = torch::TensorOptions().device(torch::kCUDA);
  auto x = torch::randn({1, 10, 8}, cu), dl = torch::randn({1, 10, 8}, cu);
  auto Bm = torch::randn({1, 10, 16}, cu), Cm = torch::randn({1, 10, 16}, cu);
  auto A = -torch::rand({8, 16}, cu), D = torch::randn({8}, cu);
  torch::NoGradGuard ng;  // no checkpoint buffer, same values
  auto y = kernels::selective_scan(x, dl, A, Bm, Cm, D, std::nullopt, std::nullopt, true);
  auto r = fp64_leaves({x, dl, A, Bm, Cm, D});
  EXPECT_LT(rel(y, scan_reference(r[0], r[1], r[2], r[3], r[4], r[5], Tensor(), torch::zeros({8}, torch::kDouble))),
            2e-4);
  auto A12 = -torch::rand({8, 12}, cu), B12 = torch::randn({1, 10, 12}, cu);
  EXPECT_FALSE(kernels::selective_scan(x, dl, A12, B12, B12, D, std::nullopt, std::nullopt, true).defined())
      << "d_state 12 is not compiled: the caller takes its LibTorch path";
  auto op = kernels::find("repro::selective_scan");
  EXPECT_THROW((op->typed<Tensor(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                 const Tensor&, const std::optional<Tensor>&, const std::optional<Tensor>&, bool)>()
                    .call(x, dl, A12, B12, B12, D, std::nullopt, std::nullopt, true)),
               c10::Error);
}

TEST(KernelsCuda, CausalConv1dMatchesReference) {
  if (!have_kernels()) GTEST_SKIP() << "no CUDA device or built without nvcc";
  const auto cu = torch::TensorOptions().device(torch::kCUDA);
  for (auto dtype : {torch::kFloat, torch::kBFloat16})
    for (int64_t K : {1, 2, 3, 4})
      for (int64_t L : {1, 5, 64, 130})
        for (bool silu : {true, false}) {
          SCOPED_TRACE(fmt::format("K={} L={} silu={} bf16={}", K, L, silu, dtype == torch::kBFloat16));
          const int64_t B = 2, C = 136;
          auto wide = torch::randn({B, L, 2 * C}, cu).to(dtype);
          auto x = wide.narrow(2, 0, C).detach().requires_grad_(true);
          auto w = torch::randn({C, K}, cu).requires_grad_(true), b = torch::randn({C}, cu).requires_grad_(true);
          auto y = kernels::causal_conv1d(x, w, b, silu);
          ASSERT_TRUE(y.defined());
          auto gy = torch::randn_like(y);
          y.backward(gy);
          auto r = fp64_leaves({x, w, b});
          const std::vector<int64_t> one{1}, zero{0};
          auto pre = torch::conv1d(torch::constant_pad_nd(r[0].transpose(1, 2), {K - 1, 0}), r[1].unsqueeze(1), r[2],
                                   one, zero, one, C)
                         .transpose(1, 2);
          auto ry = silu ? torch::silu(pre) : pre;
          ry.backward(gy.cpu().to(torch::kDouble));
          const double tol = dtype == torch::kBFloat16 ? 3e-2 : 1e-5;
          EXPECT_LT(rel(y, ry), tol);
          EXPECT_LT(rel(x.grad(), r[0].grad()), tol) << "dx";
          EXPECT_LT(rel(w.grad(), r[1].grad()), tol) << "dweight";
          EXPECT_LT(rel(b.grad(), r[2].grad()), tol) << "dbias";
        }
  auto x = torch::randn({1, 8, 4}, cu);
  EXPECT_FALSE(kernels::causal_conv1d(x, torch::randn({4, 5}, cu), std::nullopt, true).defined())
      << "widths above 4 are left to LibTorch";
}

namespace {
// WKV as an explicit softmax over positions i <= t (fp64, stable by construction), [B, L, C].
Tensor wkv_reference(const Tensor& w, const Tensor& u, const Tensor& k, const Tensor& v) {
  const int64_t L = k.size(1);
  auto t = torch::arange(L, k.options()).view({L, 1, 1}), i = torch::arange(L, k.options()).view({1, L, 1});
  auto logits = ((t - 1 - i) * w).unsqueeze(0) + k.unsqueeze(1);                           // [B, t, i, C]
  logits = torch::where((t == i).unsqueeze(0), (u + k).unsqueeze(1).expand_as(logits), logits);
  logits = logits.masked_fill((i > t).unsqueeze(0), -std::numeric_limits<double>::infinity());
  return (torch::softmax(logits, 2) * v.unsqueeze(1)).sum(2);
}
}  // namespace

TEST(KernelsCuda, Wkv4MatchesReferenceIncludingExtremeInputs) {
  if (!have_kernels()) GTEST_SKIP() << "no CUDA device or built without nvcc";
  const auto cu = torch::TensorOptions().device(torch::kCUDA);
  for (int64_t L : {1, 9, 64, 65, 150})
    for (double scale : {1.0, 30.0}) {  // 30: keys and decays large enough to overflow a naive exp
      SCOPED_TRACE(fmt::format("L={} scale={}", L, scale));
      const int64_t B = 2, C = 130;
      auto w = (-torch::exp(torch::randn({C}, cu) * (scale > 1 ? 2.0 : 0.5))).requires_grad_(true);
      auto u = (torch::randn({C}, cu) * scale).requires_grad_(true);
      auto k = (torch::randn({B, L, C}, cu) * scale).requires_grad_(true), v = torch::randn({B, L, C}, cu).requires_grad_(true);
      auto y = kernels::wkv4(w, u, k, v);
      ASSERT_TRUE(y.defined());
      ASSERT_TRUE(torch::isfinite(y).all().item<bool>());
      auto gy = torch::randn_like(y);
      y.backward(gy);
      auto r = fp64_leaves({w, u, k, v});
      auto ry = wkv_reference(r[0], r[1], r[2], r[3]);
      ry.backward(gy.cpu().to(torch::kDouble));
      EXPECT_LT(rel(y, ry), 2e-4);
      const char* names[] = {"w", "u", "k", "v"};
      std::vector<Tensor> ours = {w, u, k, v};
      for (size_t j = 0; j < ours.size(); ++j) {
        ASSERT_TRUE(torch::isfinite(ours[j].grad()).all().item<bool>()) << names[j];
        EXPECT_LT(rel(ours[j].grad(), r[j].grad()), scale > 1 ? 2e-3 : 2e-4) << "d" << names[j];
      }
    }
}

namespace {
// The same model built twice (same seed) on CUDA, run with our kernels and with REPRO_KERNELS=off (every
// LibTorch path): logits and every parameter's gradient must agree.
void compare_with_kernels_off(const std::string& arch, const std::map<std::string, sdk::Value>& over) {
  auto build = [&] {
    std::map<std::string, sdk::Value> v;
    for (const auto& p : test::plugins().architecture(arch)->params()) v[p.name] = p.default_value;
    for (const auto& [k, x] : over) v[k] = x;
    torch::manual_seed(3);
    auto m = test::plugins().build_model(arch, sdk::Params(v), {50, 256});
    m->to(torch::kCUDA);
    return m;
  };
  auto x = torch::randint(0, 50, {2, 256}, torch::kInt64).cuda();
  auto ker = build(), ref = build();
  auto b = ker->forward(x);
  b.pow(2).mean().backward();
  setenv("REPRO_KERNELS", "off", 1);
  auto a = ref->forward(x);
  a.pow(2).mean().backward();
  unsetenv("REPRO_KERNELS");
  EXPECT_LT(rel(b, a), 1e-4);
  auto kp = ker->named_parameters();
  for (const auto& q : ref->named_parameters())
    EXPECT_LT(rel(kp[q.key()].grad(), q.value().grad()), 1e-3) << q.key();
}
}  // namespace

// The plugins take the kernels by themselves (mamba scan = "auto", rwkv wkv = "auto"; Global Selection's long
// conv through the FFT) and compute the same function, with the same gradients, as their LibTorch paths.
TEST(KernelsCuda, ModelsWithKernelsMatchTheirLibTorchPaths) {
  if (!have_kernels()) GTEST_SKIP() << "no CUDA device or built without nvcc";
  for (bool gs : {false, true}) {
    SCOPED_TRACE(gs ? "mamba + global selection" : "mamba");
    compare_with_kernels_off("mamba", {{"d_model", int64_t{64}}, {"n_layers", int64_t{2}}, {"d_state", int64_t{16}},
                                       {"global_selection", gs}});
  }
  SCOPED_TRACE("rwkv");
  compare_with_kernels_off("rwkv", {{"d_model", int64_t{64}}, {"n_layers", int64_t{2}}});
}

// The mamba plugin's own inputs (x_proj's B and C at offset dt_rank = 4, in_proj's z) qualify for the quad staging.
TEST(KernelsCuda, MambaWithQuadStagingMatchesItsLibTorchPath) {
  if (!have_kernels()) GTEST_SKIP() << "no CUDA device or built without nvcc";
  setenv("REPRO_SCAN_STAGING", "quads", 1);
  const int64_t before = kernels::scan_quad_launches();
  compare_with_kernels_off("mamba", {{"d_model", int64_t{64}}, {"n_layers", int64_t{2}}, {"d_state", int64_t{16}}});
  unsetenv("REPRO_SCAN_STAGING");
  EXPECT_EQ(kernels::scan_quad_launches() - before, 4) << "both layers' forward and backward staged in quads";
}

// And with the six-blocks-per-SM backward (REPRO_SCAN_BWD=smem6), quad-staged, as a training step would run it.
TEST(KernelsCuda, MambaWithSixBlockBackwardMatchesItsLibTorchPath) {
  if (!have_kernels()) GTEST_SKIP() << "no CUDA device or built without nvcc";
  setenv("REPRO_SCAN_STAGING", "quads", 1);
  setenv("REPRO_SCAN_BWD", "smem6", 1);
  const int64_t before = kernels::scan_bwd_launches(kernels::ScanBwdBuild::smem6);
  compare_with_kernels_off("mamba", {{"d_model", int64_t{64}}, {"n_layers", int64_t{2}}, {"d_state", int64_t{16}}});
  unsetenv("REPRO_SCAN_STAGING");
  unsetenv("REPRO_SCAN_BWD");
  EXPECT_EQ(kernels::scan_bwd_launches(kernels::ScanBwdBuild::smem6) - before, 2) << "both layers' backward";
}
