// The API's credentials (SPEC §7.1): bearer tokens with the roles `portal` and `admin`, and the
// billing webhook's secret, kept in <data-dir>/tokens (mode 0600) as lines "ROLE SECRET". When the
// file is absent the first start writes it with fresh random secrets (the caller logs its path,
// never a secret).
//
// Thread-safety: a Tokens is read-only once loaded.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "api/http_server.h"
#include "base/status.h"

namespace zlh::api {

enum class Role { kNone, kPortal, kAdmin };

class Tokens {
 public:
  // Reads `path`, or creates it when absent (*created set). A file without a webhook line gets
  // one, generated and appended (the file's mode is kept). kInvalidArgument naming the line for a
  // malformed file (a secret under 16 characters, a webhook secret under
  // config::kMinWebhookSecret);
  // kIOError when it cannot be read or written.
  static Result<Tokens> LoadOrCreate(const std::string& path, bool* created);

  // The role of the request's "Authorization: Bearer TOKEN" (compared in constant time); kNone
  // when absent or unknown.
  Role Authenticate(const Request& request) const;
  // The webhook secret: never empty once loaded.
  const std::string& webhook_secret() const { return webhook_; }
  // True when loading appended a generated webhook secret to an existing file (to log it).
  bool webhook_generated() const { return webhook_generated_; }
  // The first token of `role` (tests and tools read it from the file the same way).
  std::string TokenOf(Role role) const;

 private:
  std::vector<std::pair<Role, std::string>> tokens_;
  std::string webhook_;
  bool webhook_generated_ = false;
};

// Equal strings, in time that depends only on the lengths.
bool ConstantTimeEquals(const std::string& a, const std::string& b);

}  // namespace zlh::api
