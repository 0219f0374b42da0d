#include "config/email_settings.h"

#include "config/password_file.h"

namespace zlh::config {
namespace {

Status Bad(std::string_view field, std::string_view problem) {
  return InvalidArgument("email." + std::string(field) + ": " + std::string(problem));
}

// "name@domain", as SMTP's MAIL FROM and RCPT TO take it: no spaces, no angle brackets, one @
// with something on each side.
bool IsAddress(const std::string& a) {
  size_t at = a.find('@');
  return at != std::string::npos && at > 0 && at + 1 < a.size() && a.find('@', at + 1) == std::string::npos &&
         a.find_first_of(" \t\r\n<>,;") == std::string::npos;
}

Status ParseDurationField(const char* field, const std::string& text, Millis* out) {
  if (text.empty()) return Status::Ok();
  auto d = ParseDuration(text);
  if (!d.ok()) return Bad(field, d.status().message());
  if (d->count() <= 0) return Bad(field, "must be longer than 0");
  *out = *d;
  return Status::Ok();
}

}  // namespace

Result<EmailSettings> ValidateEmail(const proto::config::Email& e) {
  EmailSettings out;
  bool any = !e.from().empty() || !e.to().empty() || !e.username().empty() ||
             !e.password_file().empty() || e.always_critical() || e.digest();
  if (e.smtp_url().empty()) {
    if (any) return Bad("smtpUrl", "required when email is configured");
    return out;
  }
  const std::string& url = e.smtp_url();
  if (url.rfind("smtp://", 0) != 0 && url.rfind("smtps://", 0) != 0) {
    return Bad("smtpUrl", "'" + url + "' is not an smtp:// or smtps:// URL");
  }
  if (e.from().empty()) return Bad("from", "required");
  if (!IsAddress(e.from())) return Bad("from", "'" + e.from() + "' is not an address (name@domain)");
  if (e.to().empty()) return Bad("to", "required: at least one address");
  for (int i = 0; i < e.to_size(); ++i) {
    if (!IsAddress(e.to(i))) {
      return Bad("to[" + std::to_string(i) + "]", "'" + e.to(i) + "' is not an address (name@domain)");
    }
  }
  if (e.password_file().empty() != e.username().empty()) {
    return Bad(e.username().empty() ? "username" : "passwordFile", "required with the other");
  }
  if (!e.password_file().empty()) {
    auto password = ReadPasswordFile("email.passwordFile", e.password_file());
    if (!password.ok()) return password.status();
    out.password = std::move(*password);
  }
  ZLH_RETURN_IF_ERROR(ParseDurationField("fallbackAfter", e.fallback_after(), &out.fallback_after));
  ZLH_RETURN_IF_ERROR(ParseDurationField("timeout", e.timeout(), &out.timeout));
  return out;
}

}  // namespace zlh::config
