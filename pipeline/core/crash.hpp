// Crash points for the kill-and-resume tests: with REPRO_CRASH_AT="<point>:<n>" in the environment the
// process sends itself SIGKILL the moment it reaches crash_point(<point>) for the n-th time (or, where the
// caller passes n, at that n: a training step). A real kill at a named, reproducible place, no timing.
// Unset (always, outside tests), a crash point costs one branch.
#pragma once
#include <cstdint>
#include <string_view>

namespace repro {

void crash_point(std::string_view point, int64_t n);
void crash_point(std::string_view point);  // n = how often this process has reached the point

}  // namespace repro
