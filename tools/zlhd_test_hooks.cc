// zlhd's test hooks (zlhd_test_hooks.h).
#include "tools/zlhd_test_hooks.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string_view>
#include <thread>

namespace zlh::tools {
namespace asio = boost::asio;
namespace {

// Waits for SIGUSR2, then blocks the loop's thread for `seconds` and waits again.
void StallOnSignal(asio::signal_set& signals, int seconds) {
  signals.async_wait([&signals, seconds](const boost::system::error_code& ec, int) {
    if (ec) return;
    spdlog::warn("test hook: the event loop stalls for {}s (ZLHD_TEST_STALL_ON_SIGUSR2)", seconds);
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    spdlog::warn("test hook: the event loop runs again");
    StallOnSignal(signals, seconds);
  });
}

}  // namespace

std::unique_ptr<asio::signal_set> InstallStallHook(asio::io_context& io) {
  const char* value = std::getenv("ZLHD_TEST_STALL_ON_SIGUSR2");
  if (!value) return nullptr;
  int seconds = std::atoi(value);
  if (seconds <= 0) {
    spdlog::warn("ZLHD_TEST_STALL_ON_SIGUSR2={}: not a number of seconds, hook not installed",
                 value);
    return nullptr;
  }
  auto signals = std::make_unique<asio::signal_set>(io, SIGUSR2);
  StallOnSignal(*signals, seconds);
  spdlog::warn("test hook installed: SIGUSR2 stalls the event loop for {}s", seconds);
  return signals;
}

const journal::FormatPlan* JournalFormatUnderTest() {
  const char* value = std::getenv("ZLHD_TEST_NEXT_FORMAT");
  if (!value || std::string_view(value) != "1") return nullptr;
  static const journal::FormatPlan next = journal::TestNextFormat();
  spdlog::warn("test hook: the journal's format is the test-only {} (ZLHD_TEST_NEXT_FORMAT)",
               next.version);
  return &next;
}

}  // namespace zlh::tools
