// on_threads (pipeline/core/threads.hpp): the pool behind `repro run --jobs` and each sweep worker's threads.
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "core/threads.hpp"
#include "support.hpp"

using namespace repro;

TEST(Threads, EveryIndexRunsOnceEachOnItsOwnThreadTheFirstOnTheCaller) {
  std::mutex mu;
  std::multiset<int> seen;
  std::set<std::thread::id> ids;
  std::atomic<int> inside{0}, most{0};
  const auto caller = std::this_thread::get_id();
  on_threads(4, [&](int i) {
    const int now = ++inside;
    for (int m = most; now > m && !most.compare_exchange_weak(m, now);) {}
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // long enough for all four to overlap
    --inside;
    std::lock_guard<std::mutex> l(mu);
    seen.insert(i);
    ids.insert(std::this_thread::get_id());
    if (i == 0) EXPECT_EQ(std::this_thread::get_id(), caller);
  });
  EXPECT_EQ(seen, (std::multiset<int>{0, 1, 2, 3}));
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_EQ(most.load(), 4) << "the four calls ran at once";
}

TEST(Threads, TheFirstExceptionIsRethrownAfterEveryThreadEnded) {
  std::atomic<int> finished{0};
  EXPECT_THROW(on_threads(3,
                          [&](int i) {
                            if (i == 1) throw std::runtime_error("boom");
                            std::this_thread::sleep_for(std::chrono::milliseconds(20));
                            ++finished;
                          }),
               std::runtime_error);
  EXPECT_EQ(finished.load(), 2);
  int calls = 0;
  on_threads(1, [&](int i) { calls += i + 1; });  // one thread: just the caller
  EXPECT_EQ(calls, 1);
}
