// Unix datagram sockets as systemd's two client protocols use them: an address is a filesystem
// path ("/run/systemd/notify") or, written "@name", a name in Linux's abstract namespace. Shared by
// the notifier (notifier.h) and the journal sink (journal_sink.h).
//
// Thread-safety: pure functions; a socket may be sent on from any thread.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <string>
#include <string_view>

#include "base/status.h"

namespace zlh::systemd {

struct UnixAddress {
  sockaddr_un addr{};
  socklen_t size = 0;  // what sendto/bind/connect take: the path or name, no more
};

// "/path" or "@name" as a socket address; kInvalidArgument for anything else (relative, empty,
// too long for sun_path).
Result<UnixAddress> ParseUnixAddress(std::string_view address);

// A new AF_UNIX datagram socket (close-on-exec; non-blocking when asked); -1 with errno on failure.
int OpenDatagramSocket(bool nonblocking);

}  // namespace zlh::systemd
