// ServiceNotifier: the service's side of systemd's notify protocol (sd_notify(3)), spoken directly
// rather than through libsystemd: READY=1, STATUS=..., WATCHDOG=1, RELOADING=1 (with
// MONOTONIC_USEC) and STOPPING=1, each a datagram
// to the socket $NOTIFY_SOCKET names. Without a socket every call does nothing. No call blocks: the
// socket is non-blocking and a datagram that cannot be sent is dropped — the first failure is
// logged (a warning), the others only counted — since the service runs on regardless.
//
// Thread-safety: every call may come from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "systemd/datagram.h"

namespace zlh::systemd {

// The watchdog timeout the service manager expects pings within, as sd_watchdog_enabled(3) reads
// it: WATCHDOG_USEC (microseconds, > 0), for this process only when WATCHDOG_PID is unset or is
// `self`. nullopt when there is none; kInvalidArgument for a value that is not a number.
Result<std::optional<std::chrono::microseconds>> WatchdogTimeout(const char* watchdog_usec,
                                                                 const char* watchdog_pid,
                                                                 long self);

class ServiceNotifier {
 public:
  // From this process's environment: NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID. A bad value is
  // logged and treated as absent (supervision is not worth refusing to start over).
  static std::unique_ptr<ServiceNotifier> FromEnvironment();
  // `socket`: "/path", "@name" or "" for none; `watchdog`: the timeout, if any.
  ServiceNotifier(const std::string& socket, std::optional<std::chrono::microseconds> watchdog);
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  // A socket to notify (NOTIFY_SOCKET was set and valid).
  bool enabled() const { return fd_ >= 0; }
  // Pings are expected within this timeout (send them every half of it); nullopt: none expected.
  std::optional<std::chrono::microseconds> watchdog_timeout() const { return watchdog_; }

  // READY=1 and, when given, the status.
  void Ready(std::string_view status = {});
  // STATUS=`text` (a newline in it would end the assignment: it is sent as a space).
  void Status(std::string_view text);
  void Watchdog() { Notify("WATCHDOG=1"); }
  // STOPPING=1 and, when given, the status that says why.
  void Stopping(std::string_view status = {});
  // RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC now, in microseconds, as systemd compares it
  // with its own for Type=notify-reload) and, when given, the status. READY=1 ends the reload.
  void Reloading(std::string_view status = {});

  // Sends `state` (assignments, one per line) as one datagram; false when not sent (no socket, or
  // the send failed).
  bool Notify(std::string_view state);
  // How many sends failed.
  uint64_t failures() const { return failures_.load(); }

 private:
  int fd_ = -1;
  UnixAddress address_;
  std::optional<std::chrono::microseconds> watchdog_;
  std::atomic<uint64_t> failures_{0};
};

}  // namespace zlh::systemd
