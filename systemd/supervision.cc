// What the daemon tells systemd, driven by its event loop (supervision.h).
#include "systemd/supervision.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "base/duration.h"

namespace zlh::systemd {

Supervision::Supervision(boost::asio::any_io_executor ex, std::unique_ptr<ServiceNotifier> notifier,
                         std::function<std::string()> status,
                         std::chrono::milliseconds status_every)
    : notifier_(std::move(notifier)),
      status_(std::move(status)),
      status_every_(status_every),
      watchdog_timer_(ex),
      status_timer_(ex) {}

Supervision::~Supervision() = default;

void Supervision::Ready() {
  if (!notifier_->enabled()) return;
  ready_ = true;
  last_status_ = status_();
  notifier_->Ready(last_status_);
  if (auto timeout = notifier_->watchdog_timeout()) {
    spdlog::info("systemd: ready; a watchdog ping every {}",
                 FormatDuration(std::chrono::duration_cast<Millis>(*timeout / 2)));
    Ping();
  } else {
    spdlog::info("systemd: ready (no watchdog)");
  }
  AwaitStatusRefresh();
}

void Supervision::Reloading() {
  if (!notifier_->enabled() || !ready_ || stopping_) return;
  reloading_ = true;
  notifier_->Reloading("reloading the configuration and tokens");
}

void Supervision::Reloaded() {
  if (!reloading_) return;
  reloading_ = false;
  if (stopping_) return;
  last_status_ = status_();
  notifier_->Ready(last_status_);
}

void Supervision::Stopping(std::string_view why) {
  if (!notifier_->enabled() || stopping_) return;
  stopping_ = true;
  status_timer_.cancel();
  notifier_->Stopping(why);
}

// WATCHDOG=1 now and again at half the timeout. Sent from the loop: a loop that does not get to run
// this handler in time is a loop systemd should restart.
void Supervision::Ping() {
  notifier_->Watchdog();
  // At least a millisecond apart: a WATCHDOG_USEC of a few microseconds must not spin the loop.
  watchdog_timer_.expires_after(
      std::max<std::chrono::microseconds>(*notifier_->watchdog_timeout() / 2, Millis(1)));
  watchdog_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) Ping();
  });
}

void Supervision::AwaitStatusRefresh() {
  status_timer_.expires_after(status_every_);
  status_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) RefreshStatus();
  });
}

void Supervision::RefreshStatus() {
  if (stopping_) return;
  std::string status = status_();
  if (status != last_status_) {
    notifier_->Status(status);
    last_status_ = std::move(status);
  }
  AwaitStatusRefresh();
}

}  // namespace zlh::systemd
