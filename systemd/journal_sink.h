// JournalSink: a spdlog sink that hands each record to systemd-journald over its native protocol
// (https://systemd.io/JOURNAL_NATIVE_PROTOCOL/), spoken directly rather than through libsystemd:
// one datagram per record to /run/systemd/journal/socket (an entry too large for a datagram goes
// in a sealed memfd passed along with an empty one), with the fields
//   MESSAGE, PRIORITY (the record's level as a syslog priority), SYSLOG_IDENTIFIER and, when the
//   code that logged runs for a workflow (base/log_context.h), WORKFLOW_ID, WORKFLOW_TYPE and
//   SERVER_ID (once the workflow has named its server).
// A record journald does not take within a second (it restarts, its socket is gone) is written to
// the fallback stream (stderr) as a text line instead.
//
// Thread-safety: as spdlog's _mt sinks (a mutex around each record).
#pragma once

#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/base_sink.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/log_context.h"
#include "base/status.h"
#include "systemd/datagram.h"

namespace zlh::systemd {

inline constexpr char kJournalSocket[] = "/run/systemd/journal/socket";

struct JournalField {
  std::string name;  // upper-case letters, digits and '_', not starting with '_'
  std::string value;
};

// An entry as the native protocol serializes it: NAME=value\n per field, or — for a value with a
// newline in it — NAME\n, the value's size as a 64-bit little-endian integer, the value, \n.
std::string EncodeJournalEntry(const std::vector<JournalField>& fields);

// syslog's priority for a spdlog level: trace and debug 7, info 6, warn 4, error 3, critical 2.
int SyslogPriority(spdlog::level::level_enum level);

// The fields of one record: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER=`identifier`, then those of
// `context` that are set (it may be nullptr).
std::vector<JournalField> RecordFields(const spdlog::details::log_msg& msg,
                                       std::string_view identifier, const logging::Fields* context);

class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // A sink for journald at `socket_path` (tests pass their own), naming itself `identifier`, with
  // `fallback` for the records journald does not take. kUnavailable when nothing is bound there
  // (the caller logs to stderr instead).
  static Result<std::shared_ptr<JournalSink>> Open(std::string identifier,
                                                   const std::string& socket_path = kJournalSocket,
                                                   FILE* fallback = stderr);
  ~JournalSink() override;

  // How many records went to the fallback stream.
  uint64_t fallbacks() const { return fallbacks_.load(); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  JournalSink(int fd, UnixAddress address, std::string identifier, FILE* fallback);

  // Sends one serialized entry: as a datagram, or in a memfd when it is too large for one.
  bool Send(const std::string& entry);
  bool SendInMemfd(const std::string& entry);
  void WriteFallback(const spdlog::details::log_msg& msg);

  int fd_;
  UnixAddress address_;
  std::string identifier_;
  FILE* fallback_;
  std::atomic<uint64_t> fallbacks_{0};
};

}  // namespace zlh::systemd
