// TestSocket: a datagram socket a test binds where systemd's would be (a path, or @name in the
// abstract namespace), to read what the code under test sends there — notify states, or journal
// entries (the content of a memfd passed with an empty datagram read in its place) — and
// DecodeJournalEntry, the native protocol's fields parsed back. Test-only.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace zlh::systemd {

struct Received {
  std::string data;
  bool in_memfd = false;
  int memfd_seals = 0;  // F_GET_SEALS of the memfd
};

class TestSocket {
 public:
  // `address`: "/path" or "@name". Built here, not with the code under test's ParseUnixAddress,
  // so that a mistake there cannot hide by making both sides agree.
  explicit TestSocket(std::string address) : address_(std::move(address)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (address_.empty() || address_.size() >= sizeof addr.sun_path) return;
    std::memcpy(addr.sun_path, address_.data(), address_.size());
    bool abstract = address_[0] == '@';
    if (abstract) addr.sun_path[0] = '\0';  // the abstract namespace: no file, no NUL at the end
    auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                       (abstract ? 0 : 1));
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ >= 0 && bind(fd_, reinterpret_cast<const sockaddr*>(&addr), size) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~TestSocket() { Close(); }
  TestSocket(const TestSocket&) = delete;
  TestSocket& operator=(const TestSocket&) = delete;

  bool bound() const { return fd_ >= 0; }
  const std::string& address() const { return address_; }

  // The next datagram within `timeout`; nullopt when none came.
  std::optional<Received> Receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (fd_ < 0 || poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    std::string buffer(1 << 20, '\0');
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    iovec iov{buffer.data(), buffer.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return std::nullopt;
    buffer.resize(static_cast<size_t>(n));
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS) return Received{buffer};
    int memfd = -1;
    std::memcpy(&memfd, CMSG_DATA(cmsg), sizeof memfd);
    return ReadMemfd(memfd);
  }

  // Closes the socket and removes its path: nothing is bound there any more.
  void Close() {
    if (fd_ < 0) return;
    close(fd_);
    fd_ = -1;
    if (address_[0] == '/') unlink(address_.c_str());
  }

 private:
  static Received ReadMemfd(int memfd) {
    Received r;
    r.in_memfd = true;
    r.memfd_seals = fcntl(memfd, F_GET_SEALS);
    struct stat st {};
    fstat(memfd, &st);
    r.data.resize(static_cast<size_t>(st.st_size));
    ssize_t n = pread(memfd, r.data.data(), r.data.size(), 0);
    r.data.resize(n > 0 ? static_cast<size_t>(n) : 0);
    close(memfd);
    return r;
  }

  std::string address_;
  int fd_ = -1;
};

// The fields of a native-protocol entry (the last value of a repeated name), both forms; nullopt
// when it is malformed.
inline std::optional<std::map<std::string, std::string>> DecodeJournalEntry(std::string_view in) {
  std::map<std::string, std::string> fields;
  while (!in.empty()) {
    size_t line_end = in.find('\n');
    if (line_end == std::string_view::npos) return std::nullopt;
    std::string_view line = in.substr(0, line_end);
    in.remove_prefix(line_end + 1);
    if (size_t eq = line.find('='); eq != std::string_view::npos) {
      fields[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
      continue;
    }
    if (in.size() < 8) return std::nullopt;
    uint64_t size = 0;
    for (size_t byte = 8; byte-- > 0;) size = (size << 8) | static_cast<uint8_t>(in[byte]);
    in.remove_prefix(8);
    if (in.size() < size + 1 || in[size] != '\n') return std::nullopt;
    fields[std::string(line)] = std::string(in.substr(0, size));
    in.remove_prefix(size + 1);
  }
  return fields;
}

}  // namespace zlh::systemd
