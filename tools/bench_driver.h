// Drive: zlh-bench's load loop — N workflows, C at a time, each started and awaited to its end —
// with the latency of each from start to terminal. Runs the io_context until done.
// Not thread-safe; one call per io_context.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <vector>

#include "workflows/engine.h"

namespace zlh::bench {

struct DriveResult {
  std::vector<double> latencies_ms;
  long failures = 0;  // not started, or not completed
  double seconds = 0;
};

// `make(i)` builds the i-th start request; `before_stop` runs once all are done, before the
// io_context stops.
inline DriveResult Drive(boost::asio::io_context& io, workflows::Engine& engine, long n, long c,
                         std::function<workflows::StartRequest(long)> make,
                         std::function<workflows::Task<void>()> before_stop = nullptr) {
  using Clock = std::chrono::steady_clock;
  DriveResult out;
  out.latencies_ms.reserve(static_cast<size_t>(n));
  long next = 0, running = c;
  auto t0 = Clock::now();
  for (long w = 0; w < c; ++w) {
    boost::asio::co_spawn(
        io,
        [&]() -> workflows::Task<void> {
          while (next < n) {
            long i = next++;
            auto start = Clock::now();
            auto started = co_await engine.Start(make(i));
            if (!started.ok()) {
              ++out.failures;
              continue;
            }
            auto end = co_await engine.AwaitTerminal(started->id);
            if (!end.ok() || end->status() != proto::COMPLETED) ++out.failures;
            out.latencies_ms.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - start).count());
          }
          if (--running == 0) {
            if (before_stop) co_await before_stop();
            io.stop();
          }
        },
        boost::asio::detached);
  }
  io.run();
  out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return out;
}

}  // namespace zlh::bench
