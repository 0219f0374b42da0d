// Eventually: waits for a condition with a deadline, polling (tests never sleep and hope).
// Test-only.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace zlh {

// True once `done()` is; false if it still is not at the deadline.
inline bool Eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds deadline = std::chrono::seconds(30),
                       std::chrono::milliseconds poll = std::chrono::milliseconds(20)) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(poll);
  }
  return done();
}

}  // namespace zlh
