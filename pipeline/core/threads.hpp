// A fixed number of threads running one function: the cells of `repro run --jobs`, and of each sweep worker.
#pragma once
#include <functional>

namespace repro {

// Runs f(0), ..., f(n - 1) at once, f(0) on the calling thread, and returns when all have returned; then
// rethrows the first exception any of them let escape (the others still ran to their end).
void on_threads(int n, const std::function<void(int)>& f);

}  // namespace repro
