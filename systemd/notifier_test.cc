// The notify protocol against a socket the test binds: each state one datagram, a path or an
// abstract name, nothing without a socket, the watchdog read as sd_watchdog_enabled(3) reads it,
// and a send that fails logged once and never blocking.
#include "systemd/notifier.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <random>
#include <sstream>
#include <thread>

#include "base/temp_dir.h"
#include "systemd/test_socket.h"

namespace zlh::systemd {
namespace {

using namespace std::chrono_literals;

std::string Next(TestSocket& socket) {
  auto r = socket.Receive(5s);
  return r ? r->data : "(nothing)";
}

std::string AbstractName() {
  return "@zlh-notify-test-" + std::to_string(getpid()) + "-" +
         std::to_string(std::random_device()());
}

// Routes the default logger into a string for the test's lifetime.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("captured", sink));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream out_;
};

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(NotifierTest, EachStateIsOneDatagramToThePath) {
  TempDir tmp;
  TestSocket socket(tmp.Sub("notify"));
  ASSERT_TRUE(socket.bound());
  ServiceNotifier notifier(socket.address(), std::nullopt);
  ASSERT_TRUE(notifier.enabled());
  notifier.Ready("leader: 0 workflows in flight");
  notifier.Status("standby\nfor now");
  notifier.Watchdog();
  notifier.Stopping("draining");
  notifier.Stopping();
  EXPECT_EQ(Next(socket), "READY=1\nSTATUS=leader: 0 workflows in flight");
  EXPECT_EQ(Next(socket), "STATUS=standby for now");  // a newline would end the assignment
  EXPECT_EQ(Next(socket), "WATCHDOG=1");
  EXPECT_EQ(Next(socket), "STOPPING=1\nSTATUS=draining");
  EXPECT_EQ(Next(socket), "STOPPING=1");
  EXPECT_EQ(notifier.failures(), 0u);
}

TEST(NotifierTest, AnAtSignNamesTheAbstractNamespace) {
  TestSocket socket(AbstractName());
  ASSERT_TRUE(socket.bound());
  ServiceNotifier notifier(socket.address(), std::nullopt);
  notifier.Ready();
  EXPECT_EQ(Next(socket), "READY=1");
}

TEST(NotifierTest, WithoutASocketNothingIsSent) {
  ServiceNotifier notifier("", std::chrono::seconds(30));
  EXPECT_FALSE(notifier.enabled());
  EXPECT_FALSE(notifier.Notify("READY=1"));
  EXPECT_EQ(notifier.failures(), 0u);
}

TEST(NotifierTest, ABadAddressIsNotFatal) {
  CapturedLog log;
  ServiceNotifier notifier("relative/notify", std::nullopt);
  EXPECT_FALSE(notifier.enabled());
  EXPECT_NE(log.text().find("NOTIFY_SOCKET"), std::string::npos) << log.text();
}

TEST(NotifierTest, WatchdogTimeoutIsReadAsSdWatchdogEnabledReadsIt) {
  using std::chrono::microseconds;
  auto timeout = [](const char* usec, const char* pid) {
    auto t = WatchdogTimeout(usec, pid, 4242);
    return t.ok() ? (*t ? std::to_string(t->value().count()) : "none") : "error";
  };
  EXPECT_EQ(timeout(nullptr, nullptr), "none");
  EXPECT_EQ(timeout("30000000", nullptr), "30000000");
  EXPECT_EQ(timeout("30000000", "4242"), "30000000");
  EXPECT_EQ(timeout("30000000", "4243"), "none");  // another process's to send
  EXPECT_EQ(timeout("0", nullptr), "none");
  EXPECT_EQ(timeout("30s", nullptr), "error");
  EXPECT_EQ(timeout("30000000", "me"), "error");
}

TEST(NotifierTest, FromEnvironmentReadsTheThreeVariables) {
  TempDir tmp;
  TestSocket socket(tmp.Sub("notify"));
  setenv("NOTIFY_SOCKET", socket.address().c_str(), 1);
  setenv("WATCHDOG_USEC", "2000000", 1);
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  auto mine = ServiceNotifier::FromEnvironment();
  setenv("WATCHDOG_PID", std::to_string(getpid() + 1).c_str(), 1);
  auto inherited = ServiceNotifier::FromEnvironment();
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  auto none = ServiceNotifier::FromEnvironment();

  ASSERT_TRUE(mine->enabled());
  EXPECT_EQ(mine->watchdog_timeout(), std::chrono::microseconds(2'000'000));
  EXPECT_EQ(inherited->watchdog_timeout(), std::nullopt);
  EXPECT_FALSE(none->enabled());
  mine->Watchdog();
  EXPECT_EQ(Next(socket), "WATCHDOG=1");
}

// A receiver that never reads fills up: the sender drops datagrams instead of waiting, and says so
// once.
TEST(NotifierTest, AFailedSendIsLoggedOnceAndNeverBlocks) {
  CapturedLog log;
  TempDir tmp;
  TestSocket socket(tmp.Sub("notify"));
  ServiceNotifier notifier(socket.address(), std::nullopt);
  auto sent = std::async(std::launch::async, [&] {
    for (int i = 0; i < 20'000; ++i) notifier.Watchdog();
  });
  bool returned = sent.wait_for(10s) == std::future_status::ready;
  socket.Close();  // unblocks a sender that waits, so that the test can end either way
  sent.wait();
  EXPECT_TRUE(returned) << "a send blocked on a full receiver";
  EXPECT_GT(notifier.failures(), 0u);
  notifier.Watchdog();  // nothing bound any more: fails too
  EXPECT_EQ(Count(log.text(), "cannot send to NOTIFY_SOCKET"), 1u) << log.text();
}

}  // namespace
}  // namespace zlh::systemd
