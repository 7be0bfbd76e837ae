#include "threads.hpp"

#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace repro {

void on_threads(int n, const std::function<void(int)>& f) {
  std::exception_ptr first;
  std::mutex mu;
  auto guarded = [&](int i) {
    try {
      f(i);
    } catch (...) {
      std::lock_guard<std::mutex> l(mu);
      if (!first) first = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int i = 1; i < n; ++i) pool.emplace_back(guarded, i);
  guarded(0);
  for (auto& t : pool) t.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace repro
