// The journal's native protocol, sending side (journal_sink.h).
#include "systemd/journal_sink.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace zlh::systemd {
namespace {

void AppendField(std::string& out, const JournalField& field) {
  out += field.name;
  if (field.value.find('\n') == std::string::npos) {
    out += '=';
  } else {
    out += '\n';
    uint64_t size = field.value.size();
    for (int byte = 0; byte < 8; ++byte) out += static_cast<char>((size >> (8 * byte)) & 0xff);
  }
  out += field.value;
  out += '\n';
}

// Sends `fd` over `socket` to `address` with an empty payload (SCM_RIGHTS).
bool SendDescriptor(int socket, const UnixAddress& address, int fd) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr_un*>(&address.addr);
  msg.msg_namelen = address.size;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  return sendmsg(socket, &msg, MSG_NOSIGNAL) >= 0;
}

// Whether something is bound at `address`: a datagram socket connects to it or not. Only a probe:
// each record is sent to the address again, so that a journald restarted since (a new socket at
// the same path) gets the next one.
Status ProbeListener(const UnixAddress& address, const std::string& path) {
  int probe = OpenDatagramSocket(/*nonblocking=*/false);
  if (probe < 0) return IOError(std::string("journald socket: ") + strerror(errno));
  int connected = connect(probe, reinterpret_cast<const sockaddr*>(&address.addr), address.size);
  int error = errno;
  close(probe);
  if (connected != 0) return Unavailable("nothing listens on " + path + ": " + strerror(error));
  return Status::Ok();
}

}  // namespace

std::string EncodeJournalEntry(const std::vector<JournalField>& fields) {
  std::string out;
  for (const JournalField& field : fields) AppendField(out, field);
  return out;
}

int SyslogPriority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::critical:
      return 2;  // LOG_CRIT
    case spdlog::level::err:
      return 3;  // LOG_ERR
    case spdlog::level::warn:
      return 4;  // LOG_WARNING
    case spdlog::level::info:
      return 6;  // LOG_INFO
    default:
      return 7;  // LOG_DEBUG: trace, debug
  }
}

std::vector<JournalField> RecordFields(const spdlog::details::log_msg& msg,
                                       std::string_view identifier,
                                       const logging::Fields* context) {
  std::vector<JournalField> fields{{"MESSAGE", std::string(msg.payload.data(), msg.payload.size())},
                                   {"PRIORITY", std::to_string(SyslogPriority(msg.level))},
                                   {"SYSLOG_IDENTIFIER", std::string(identifier)}};
  if (!context) return fields;
  if (!context->workflow_id.empty()) fields.push_back({"WORKFLOW_ID", context->workflow_id});
  if (!context->workflow_type.empty()) fields.push_back({"WORKFLOW_TYPE", context->workflow_type});
  if (!context->server_id.empty()) fields.push_back({"SERVER_ID", context->server_id});
  return fields;
}

Result<std::shared_ptr<JournalSink>> JournalSink::Open(std::string identifier,
                                                       const std::string& socket_path,
                                                       FILE* fallback) {
  auto address = ParseUnixAddress(socket_path);
  if (!address.ok()) return address.status();
  if (Status there = ProbeListener(*address, socket_path); !there.ok()) return there;
  int fd = OpenDatagramSocket(/*nonblocking=*/false);
  if (fd < 0) return IOError(std::string("journald socket: ") + strerror(errno));
  // A journald that does not take a record within a second is not waited for longer.
  timeval timeout{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  return std::shared_ptr<JournalSink>(
      new JournalSink(fd, *address, std::move(identifier), fallback));
}

JournalSink::JournalSink(int fd, UnixAddress address, std::string identifier, FILE* fallback)
    : fd_(fd), address_(address), identifier_(std::move(identifier)), fallback_(fallback) {}

JournalSink::~JournalSink() { close(fd_); }

void JournalSink::sink_it_(const spdlog::details::log_msg& msg) {
  if (!Send(EncodeJournalEntry(RecordFields(msg, identifier_, logging::Current())))) {
    WriteFallback(msg);
  }
}

void JournalSink::flush_() {
  if (fallback_) std::fflush(fallback_);
}

bool JournalSink::Send(const std::string& entry) {
  if (sendto(fd_, entry.data(), entry.size(), MSG_NOSIGNAL,
             reinterpret_cast<const sockaddr*>(&address_.addr), address_.size) >= 0) {
    return true;
  }
  return errno == EMSGSIZE && SendInMemfd(entry);
}

// The protocol's way for an entry larger than a datagram: the data in a memfd, sealed so that
// journald can trust it not to change, sent as the only content of an empty datagram.
bool JournalSink::SendInMemfd(const std::string& entry) {
  int memfd = memfd_create("zlh-journal-entry", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (memfd < 0) return false;
  bool ok =
      write(memfd, entry.data(), entry.size()) == static_cast<ssize_t>(entry.size()) &&
      fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0 &&
      SendDescriptor(fd_, address_, memfd);
  close(memfd);
  return ok;
}

void JournalSink::WriteFallback(const spdlog::details::log_msg& msg) {
  fallbacks_.fetch_add(1);
  if (!fallback_) return;
  spdlog::memory_buf_t line;
  formatter_->format(msg, line);
  std::fwrite(line.data(), 1, line.size(), fallback_);
}

}  // namespace zlh::systemd
