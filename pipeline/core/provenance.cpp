#include "provenance.hpp"

#include <boost/version.hpp>
#include <fmt/format.h>
#include <torch/version.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include <kernels/info.hpp>
#include <repro/kernels.hpp>

#include "error.hpp"

#ifdef REPRO_TORCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#ifndef REPRO_SOURCE_DIR
#define REPRO_SOURCE_DIR "."
#endif
#ifndef REPRO_VERSION
#define REPRO_VERSION "0.0.0"
#endif

namespace repro {

std::string device_description(const torch::Device& d) {
  if (!d.is_cuda()) return "cpu";
#ifdef REPRO_TORCH_CUDA
  const auto* p = at::cuda::getDeviceProperties(d.has_index() ? d.index() : 0);
  return fmt::format("cuda:{} ({})", d.has_index() ? d.index() : 0, p->name);
#else
  return "cuda";
#endif
}

torch::Device resolve_device(const std::string& want) {
  if (want == "cpu") return torch::kCPU;
  if (want == "cuda" && !torch::cuda::is_available())
    throw UserError("device \"cuda\" requested but no CUDA device is available (use device = \"auto\" or \"cpu\")");
  return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
}

namespace {
std::string run(const std::string& cmd) {
  std::array<char, 256> buf{};
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return "";
  while (fgets(buf.data(), buf.size(), p)) out += buf.data();
  if (::pclose(p) != 0) return "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}
}  // namespace

std::string git_revision() {
  static const std::string rev = [] {
    // A binary run away from its sources (tools/gpu-bundle.sh carries it to a GPU host) states the revision it was
    // built from: the .git there, if any, need not be that revision (a host's copy was seen at the session's start).
    if (const char* env = std::getenv("REPRO_GIT_SHA"); env && *env) return std::string(env) + " (from REPRO_GIT_SHA)";
    const std::string g = std::string("git -C '") + REPRO_SOURCE_DIR + "' ";
    std::string sha = run(g + "rev-parse HEAD 2>/dev/null");
    if (sha.empty()) return std::string("unknown");
    // Committed outputs (results/, reports/) do not make the code dirty.
    if (!run(g + "status --porcelain --untracked-files=no -- . ':!results' ':!reports' 2>/dev/null").empty())
      sha += "-dirty";
    return sha;
  }();
  return rev;
}

nlohmann::json library_versions() {
  nlohmann::json v = {{"repro", REPRO_VERSION},
                      {"libtorch", TORCH_VERSION},
                      {"boost", fmt::format("{}.{}.{}", BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100)},
                      {"compiler", fmt::format("gcc {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__)},
                      {"kernels", kernels::enabled() ? kernels::describe() : "off (REPRO_KERNELS=off)"}};
#ifdef REPRO_TORCH_CUDA
  if (torch::cuda::is_available()) {
    v["cuda_runtime"] = fmt::format("{}", CUDART_VERSION);
  }
#endif
  return v;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace repro
