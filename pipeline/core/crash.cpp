#include "crash.hpp"

#include <csignal>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace repro {
namespace {

struct Target {
  std::string point;
  int64_t n = -1;
};

const Target& target() {
  static const Target t = [] {
    Target t;
    const char* env = std::getenv("REPRO_CRASH_AT");
    if (!env) return t;
    std::string s(env);
    auto colon = s.rfind(':');
    if (colon == std::string::npos) return t;
    t.point = s.substr(0, colon);
    t.n = std::atoll(s.c_str() + colon + 1);
    return t;
  }();
  return t;
}

}  // namespace

void crash_point(std::string_view point, int64_t n) {
  const Target& t = target();
  if (t.n < 0 || n != t.n || point != t.point) return;
  std::fprintf(stderr, "crash point %s:%lld reached: SIGKILL\n", t.point.c_str(), static_cast<long long>(n));
  std::fflush(stderr);
  ::kill(::getpid(), SIGKILL);
}

void crash_point(std::string_view point) {
  static std::atomic<int64_t> reached{0};  // only the targeted point is counted
  const Target& t = target();
  if (t.n < 0 || point != t.point) return;
  crash_point(point, ++reached);
}

}  // namespace repro
