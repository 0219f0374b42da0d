#include "activities/smtp_mailer.h"

#include <curl/curl.h>

#include <algorithm>
#include <boost/asio/thread_pool.hpp>
#include <cstdio>
#include <cstring>

#include "activities/blocking.h"
#include "base/base64.h"

namespace zlh::activities {
namespace {

// RFC 5322's date: "Mon, 07 Dec 2026 06:30:00 +0000".
std::string MailDate(TimeMs now) { return FormatUtc(now, "%a, %d %b %Y %H:%M:%S +0000"); }

// The subject's text as a header value: ASCII as it is, anything else an RFC 2047 encoded word.
std::string SubjectValue(const std::string& subject) {
  for (unsigned char c : subject) {
    if (c >= 0x80 || c < 0x20) return "=?UTF-8?B?" + Base64(subject) + "?=";
  }
  return subject;
}

// The first line of `text`, cut to 120 bytes at a character boundary.
std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > 120) {
    size_t n = 120;
    while (n > 0 && (static_cast<unsigned char>(line[n]) & 0xC0) == 0x80) --n;
    line = line.substr(0, n) + "…";
  }
  return line;
}

// A Message-ID for the notification `key`: the same for every repeat of its delivery.
std::string MessageId(const std::string& key, const std::string& from) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ULL;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return "<zlh." + std::string(hex) + from.substr(from.find('@')) + ">";
}

// Every line end a CRLF, as SMTP's DATA wants (libcurl escapes a leading dot).
std::string Crlf(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
    out += text[i];
  }
  return out;
}

struct Upload {
  const std::string* data;
  size_t at = 0;
};

size_t Read(char* buffer, size_t size, size_t n, void* user) {
  Upload* up = static_cast<Upload*>(user);
  size_t len = std::min(size * n, up->data->size() - up->at);
  std::memcpy(buffer, up->data->data() + up->at, len);
  up->at += len;
  return len;
}

Status StatusOf(CURLcode rc, long smtp_code, const SmtpOptions& o, const std::string& what) {
  std::string where = what + " through " + o.url + ": ";
  if (rc == CURLE_OK) return Status::Ok();
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Status(Code::kDeadlineExceeded, where + "no answer within " + FormatDuration(o.timeout));
  }
  if (rc == CURLE_USE_SSL_FAILED) {
    return FailedPrecondition(where + "the server offers no STARTTLS, and a password is never sent in clear");
  }
  if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
    return FailedPrecondition(where + curl_easy_strerror(rc) + " (email.caFile names a CA to trust)");
  }
  if (rc == CURLE_LOGIN_DENIED) return InvalidArgument(where + "AUTH refused for " + o.username);
  std::string message = where + curl_easy_strerror(rc) +
                        (smtp_code > 0 ? " (SMTP " + std::to_string(smtp_code) + ")" : "");
  if (smtp_code >= 500) return InvalidArgument(message);
  return Unavailable(message);
}

// One SMTP session: the message when `message` is set, else a NOOP.
Status Session(const SmtpOptions& o, const std::string* message) {
  CURL* curl = curl_easy_init();
  if (!curl) return Internal("libcurl could not make a handle");
  curl_slist* rcpt = nullptr;
  for (const auto& to : o.to) rcpt = curl_slist_append(rcpt, ("<" + to + ">").c_str());
  std::string from = "<" + o.from + ">";
  curl_easy_setopt(curl, CURLOPT_URL, o.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(o.timeout.count()));
  // smtp:// upgrades with STARTTLS when offered; a password demands it (smtps:// is TLS already).
  curl_easy_setopt(curl, CURLOPT_USE_SSL, o.password.empty() ? CURLUSESSL_TRY : CURLUSESSL_ALL);
  if (!o.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, o.ca_file.c_str());
  if (!o.password.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, o.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, o.password.c_str());
  }
  Upload up{message};
  if (message) {
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, Read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &up);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "NOOP");
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  }
  CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(curl);
  return StatusOf(rc, code, o, message ? "email" : "SMTP check");
}

}  // namespace

std::string FormatEmail(const SmtpOptions& o, const std::string& key, TimeMs now,
                        const std::string& channel, const std::string& text) {
  std::string to;
  for (const auto& t : o.to) to += (to.empty() ? "" : ", ") + t;
  std::string out = "Date: " + MailDate(now) + "\r\n" + "From: " + o.from + "\r\n" + "To: " + to +
                    "\r\n" + "Subject: " + SubjectValue("[ZLH] " + channel + ": " + FirstLine(text)) +
                    "\r\n" + "Message-ID: " + MessageId(key, o.from) + "\r\n" +
                    "MIME-Version: 1.0\r\n" + "Content-Type: text/plain; charset=UTF-8\r\n" +
                    "Content-Transfer-Encoding: 8bit\r\n" + "X-ZLH-Channel: " + channel + "\r\n\r\n";
  return out + Crlf(text) + "\r\n";
}

struct SmtpMailer::Impl {
  boost::asio::thread_pool pool{1};
};

SmtpMailer::SmtpMailer(SmtpOptions options) : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  curl_global_init(CURL_GLOBAL_DEFAULT);  // reference-counted; thread-safe since libcurl 7.84
}

SmtpMailer::~SmtpMailer() { impl_->pool.join(); }

boost::asio::awaitable<Status> SmtpMailer::Send(const CallContext& ctx, std::string channel, std::string text) {
  std::string message = FormatEmail(options_, ctx.idempotency_key, NowMs(), channel, text);
  co_return co_await OffLoop<Status>(impl_->pool, [this, message = std::move(message)] {
    return Session(options_, &message);
  });
}

boost::asio::awaitable<Status> SmtpMailer::Probe() {
  co_return co_await OffLoop<Status>(impl_->pool, [this] { return Session(options_, nullptr); });
}

}  // namespace zlh::activities
