// libFuzzer target over the spec loader and validator (what `repro validate` runs). Whatever the bytes,
// the outcome is a spec that loads and plans, or one UserError line "<file>:<line>:<col>: ...". Anything
// else is a finding: another exception type, a multi-line or unlocated message, a crash, a sanitizer report.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>

#include "core/error.hpp"
#include "core/plan.hpp"
#include "core/plugins.hpp"
#include "core/spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const repro::PluginRegistry plugins(repro::PluginRegistry::search_path({}));
  static const std::string path = "/tmp/repro-spec-fuzz-" + std::to_string(::getpid()) + ".toml";
  static const std::regex located("^" + path + R"(:\d+:\d+: [^\n]+$)");
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), size);
  try {
    auto spec = repro::load_spec(path, plugins);
    repro::plan_cells(spec, plugins);
  } catch (const repro::UserError& e) {
    if (!std::regex_match(e.what(), located)) {
      std::fprintf(stderr, "error message is not one located line: %s\n", e.what());
      std::abort();
    }
  }
  return 0;
}
