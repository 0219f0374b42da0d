// The notify protocol's sending side (notifier.h).
#include "systemd/notifier.h"

#include <spdlog/spdlog.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace zlh::systemd {
namespace {

Result<uint64_t> ParseUnsigned(std::string_view name, std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return InvalidArgument(std::string(name) + "='" + std::string(text) + "' is not a number");
  }
  return value;
}

// STATUS=`text`, a newline in it sent as a space (it would end the assignment).
std::string StatusAssignment(std::string_view text) {
  std::string state = "STATUS=" + std::string(text);
  for (char& c : state) c = c == '\n' ? ' ' : c;
  return state;
}

}  // namespace

Result<std::optional<std::chrono::microseconds>> WatchdogTimeout(const char* watchdog_usec,
                                                                 const char* watchdog_pid,
                                                                 long self) {
  if (!watchdog_usec) return std::optional<std::chrono::microseconds>();
  auto usec = ParseUnsigned("WATCHDOG_USEC", watchdog_usec);
  if (!usec.ok()) return usec.status();
  if (watchdog_pid) {
    auto pid = ParseUnsigned("WATCHDOG_PID", watchdog_pid);
    if (!pid.ok()) return pid.status();
    // The pings are another process's to send (the variable was inherited).
    if (static_cast<long>(*pid) != self) return std::optional<std::chrono::microseconds>();
  }
  if (*usec == 0) return std::optional<std::chrono::microseconds>();
  return std::optional(std::chrono::microseconds(static_cast<int64_t>(*usec)));
}

std::unique_ptr<ServiceNotifier> ServiceNotifier::FromEnvironment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  auto watchdog = WatchdogTimeout(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"),
                                  static_cast<long>(getpid()));
  if (!watchdog.ok()) spdlog::warn("systemd watchdog off: {}", watchdog.status().message());
  return std::make_unique<ServiceNotifier>(socket ? socket : "",
                                           watchdog.ok() ? *watchdog : std::nullopt);
}

ServiceNotifier::ServiceNotifier(const std::string& socket,
                                 std::optional<std::chrono::microseconds> watchdog)
    : watchdog_(watchdog) {
  if (socket.empty()) return;
  auto address = ParseUnixAddress(socket);
  if (!address.ok()) {
    spdlog::warn("NOTIFY_SOCKET: {}: not notifying systemd", address.status().message());
    return;
  }
  address_ = *address;
  fd_ = OpenDatagramSocket(/*nonblocking=*/true);
  if (fd_ < 0) spdlog::warn("NOTIFY_SOCKET: no socket: {}: not notifying systemd", strerror(errno));
}

ServiceNotifier::~ServiceNotifier() {
  if (fd_ >= 0) close(fd_);
}

void ServiceNotifier::Ready(std::string_view status) {
  Notify(status.empty() ? "READY=1" : "READY=1\n" + StatusAssignment(status));
}

void ServiceNotifier::Status(std::string_view text) { Notify(StatusAssignment(text)); }

void ServiceNotifier::Stopping(std::string_view status) {
  Notify(status.empty() ? "STOPPING=1" : "STOPPING=1\n" + StatusAssignment(status));
}

void ServiceNotifier::Reloading(std::string_view status) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  uint64_t usec = static_cast<uint64_t>(now.tv_sec) * 1'000'000 +
                  static_cast<uint64_t>(now.tv_nsec) / 1'000;
  std::string state = "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
  Notify(status.empty() ? state : state + "\n" + StatusAssignment(status));
}

bool ServiceNotifier::Notify(std::string_view state) {
  if (fd_ < 0) return false;
  ssize_t sent = sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                        reinterpret_cast<const sockaddr*>(&address_.addr), address_.size);
  if (sent == static_cast<ssize_t>(state.size())) return true;
  int error = errno;
  if (failures_.fetch_add(1) == 0) {
    spdlog::warn(
        "systemd notify: cannot send to NOTIFY_SOCKET ({}); this and further failures are "
        "dropped",
        strerror(error));
  }
  return false;
}

}  // namespace zlh::systemd
