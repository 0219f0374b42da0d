// SmtpMailer: the Mailer (services.h) over SMTP on libcurl (SPEC §10) — smtps://, or smtp:// with
// STARTTLS when the server offers it (demanded when a password is configured: a password never
// goes in clear), AUTH with the configured user. One message to every recipient, plain UTF-8
// text, subject "[ZLH] <channel>: <first line>"; its Message-ID derives from the call's
// idempotency key, so a repeated delivery of the same notification is recognisable as such. Each
// delivery runs on the mailer's own thread (libcurl's easy interface blocks): the event loop never
// waits on a mail server.
//
// Thread-safety: Send and Probe may be called from any thread; the mailer must outlive them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>
#include <vector>

#include "activities/hypervisor.h"
#include "activities/services.h"
#include "base/clock.h"
#include "base/duration.h"
#include "base/status.h"

namespace zlh::activities {

struct SmtpOptions {
  std::string url;   // smtps://host:465 or smtp://host:587
  std::string from;  // name@domain
  std::vector<std::string> to;
  std::string username;
  std::string password;  // "" : no AUTH
  std::string ca_file;   // trust this CA bundle instead of the system's
  Millis timeout{30'000};
};

// The message as sent (RFC 5322, CRLF line ends): headers Date, From, To, Subject (an RFC 2047
// encoded word when not ASCII), Message-ID, MIME-Version, Content-Type text/plain UTF-8,
// X-ZLH-Channel; then `text`.
std::string FormatEmail(const SmtpOptions& options, const std::string& idempotency_key, TimeMs now,
                        const std::string& channel, const std::string& text);

class SmtpMailer final : public Mailer {
 public:
  explicit SmtpMailer(SmtpOptions options);
  ~SmtpMailer();
  SmtpMailer(const SmtpMailer&) = delete;
  SmtpMailer& operator=(const SmtpMailer&) = delete;

  // Delivers `text` from `channel`. kUnavailable when the server cannot be reached, times out
  // (kDeadlineExceeded) or answers 4xx (try again); kInvalidArgument when it refuses for good (a
  // 5xx: an unknown recipient, AUTH refused); kFailedPrecondition for a configuration that cannot
  // work (no STARTTLS offered with a password configured, a certificate not trusted).
  boost::asio::awaitable<Status> Send(const CallContext& ctx, std::string channel,
                                      std::string text) override;

  // zlhd --check-config: connects, EHLO, STARTTLS and AUTH as configured, NOOP, QUIT. Sends no
  // message. The same errors as Send.
  boost::asio::awaitable<Status> Probe();

 private:
  struct Impl;
  SmtpOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zlh::activities
