// The notification outbox's delivery for in-process fixtures: zlhd's real dispatcher, on the
// engine's io_context, delivering what the workflows record through Outside's notifier (Discord at
// the test's zlh-sim), woken by Deps::notified as in zlhd. Test-only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>

#include "base/duration.h"
#include "config/config.h"
#include "flows/flows.h"
#include "flows/outside.h"
#include "journal/journal.h"
#include "notify/dispatcher.h"

namespace zlh {

class OutboxDelivery {
 public:
  // Delivers on `ex` from now on (once an earlier start was stopped) and points `deps.notified`
  // at it. Everything must outlive this, or the next Stop.
  void Start(boost::asio::any_io_executor ex, journal::Journal& journal, flows::Outside& outside,
             const config::Settings& settings, flows::Deps& deps) {
    dispatcher_ = std::make_unique<notify::Dispatcher>(std::move(ex), journal,
                                                       outside.notifications(), outside.mailer(),
                                                       notify::OptionsOf(settings, nullptr));
    deps.notified = [this] {
      if (dispatcher_) dispatcher_->Wake();
    };
    dispatcher_->Start();
  }
  // Ends the delivery, its attempts in flight first (within 10 s); to be awaited on the loop,
  // before the loop or the journal goes.
  boost::asio::awaitable<void> Stop() {
    if (!dispatcher_) co_return;
    co_await dispatcher_->Stop(Millis(10'000));
    dispatcher_.reset();
  }

 private:
  std::unique_ptr<notify::Dispatcher> dispatcher_;
};

}  // namespace zlh
