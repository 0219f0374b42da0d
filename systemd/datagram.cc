// Unix datagram sockets (datagram.h).
#include "systemd/datagram.h"

#include <cstddef>
#include <cstring>

namespace zlh::systemd {

Result<UnixAddress> ParseUnixAddress(std::string_view address) {
  bool abstract = !address.empty() && address.front() == '@';
  if (address.empty() || (!abstract && address.front() != '/')) {
    return InvalidArgument("'" + std::string(address) +
                           "' is not a socket address (an absolute path, or @name)");
  }
  UnixAddress out;
  // A path needs room for its terminating NUL; an abstract name is its bytes exactly, the '@'
  // written as the leading NUL.
  if (address.size() + (abstract ? 0 : 1) > sizeof out.addr.sun_path || address.size() < 2) {
    return InvalidArgument("socket address '" + std::string(address) + "' is too long or empty");
  }
  out.addr.sun_family = AF_UNIX;
  std::memcpy(out.addr.sun_path, address.data(), address.size());
  if (abstract) out.addr.sun_path[0] = '\0';
  out.size =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + (abstract ? 0 : 1));
  return out;
}

int OpenDatagramSocket(bool nonblocking) {
  return socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
}

}  // namespace zlh::systemd
