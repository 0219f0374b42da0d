// Supervision: what a daemon tells systemd while it runs, through a ServiceNotifier (notifier.h):
// READY=1 once it serves; WATCHDOG=1 from a timer on its event loop every half of the watchdog
// timeout, so that a loop that is wedged stops pinging and systemd restarts the service; STATUS=
// evaluated again every second and sent when it changed (a leadership change shows within a
// second); RELOADING=1 then READY=1 around a reload of its configuration; STOPPING=1 when it
// starts to drain. Without NOTIFY_SOCKET it sends nothing and runs no timer.
//
// Thread-safety: construct, call and destroy on the event loop's thread (or before it runs).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "systemd/notifier.h"

namespace zlh::systemd {

class Supervision {
 public:
  // `status`: the service's state in a line ("leader: 2 workflows in flight"), asked on the loop.
  Supervision(boost::asio::any_io_executor ex, std::unique_ptr<ServiceNotifier> notifier,
              std::function<std::string()> status,
              std::chrono::milliseconds status_every = std::chrono::seconds(1));
  ~Supervision();
  Supervision(const Supervision&) = delete;
  Supervision& operator=(const Supervision&) = delete;

  // READY=1 with the status; starts the watchdog pings and the status updates.
  void Ready();
  // RELOADING=1 (with MONOTONIC_USEC) and STATUS=reloading, once Ready was sent and until
  // Stopping; nothing otherwise. Reloaded ends it.
  void Reloading();
  // READY=1 with the status again, after Reloading.
  void Reloaded();
  // STOPPING=1 with STATUS=`why`; the status is not updated any more. The pings go on while the
  // loop runs: the drain is work the watchdog watches too.
  void Stopping(std::string_view why);

 private:
  void Ping();
  void AwaitStatusRefresh();
  void RefreshStatus();

  std::unique_ptr<ServiceNotifier> notifier_;
  std::function<std::string()> status_;
  std::chrono::milliseconds status_every_;
  boost::asio::steady_timer watchdog_timer_;
  boost::asio::steady_timer status_timer_;
  std::string last_status_;
  bool ready_ = false;
  bool reloading_ = false;
  bool stopping_ = false;
};

}  // namespace zlh::systemd
