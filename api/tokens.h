// The API's credentials (SPEC §7.1): bearer tokens with the roles `portal` and `admin`, and the
// billing webhook's secret, kept in <data-dir>/tokens (mode 0600) as lines "ROLE SECRET" (blank
// lines and lines starting with '#' are skipped). A role has at most two lines: two while its
// token is rotated (SPEC §11), both valid; the webhook secret one line. Every secret is different.
// When the file is absent the first start writes it with fresh random secrets (the caller logs its
// path, never a secret).
//
// Thread-safety: a Tokens is a value: read-only once loaded, replaced as a whole (zlhd's reload
// assigns a new one on the event loop's thread, where every request reads it).
#pragma once

#include <istream>
#include <string>
#include <utility>
#include <vector>

#include "api/http_server.h"
#include "base/status.h"

namespace zlh::api {

struct TokenChanges;

enum class Role { kNone, kPortal, kAdmin };

class Tokens {
 public:
  // The most tokens one role may have: the new one and the one it replaces.
  static constexpr int kMaxPerRole = 2;

  // Reads `path`, or creates it when absent (*created set). A file without a webhook line gets
  // one, generated and appended (the file's mode is kept). kInvalidArgument naming the line for a
  // malformed file (a secret under 16 characters, a webhook secret under
  // config::kMinWebhookSecret, a third token of a role, a second webhook secret, a secret that
  // another line has too); kIOError when it cannot be read or written.
  static Result<Tokens> LoadOrCreate(const std::string& path, bool* created);
  // Reads `path` as it is and writes nothing (a reload): as LoadOrCreate, and kInvalidArgument
  // when it has no webhook line; kIOError when it cannot be read.
  static Result<Tokens> Load(const std::string& path);

  // The role of the request's "Authorization: Bearer TOKEN" (compared in constant time); kNone
  // when absent or unknown.
  Role Authenticate(const Request& request) const;
  // The webhook secret: never empty once loaded.
  const std::string& webhook_secret() const { return webhook_; }
  // True when loading appended a generated webhook secret to an existing file (to log it).
  bool webhook_generated() const { return webhook_generated_; }
  // The first token of `role` (tests and tools read it from the file the same way).
  std::string TokenOf(Role role) const;
  // How many tokens `role` has (0, 1 or 2).
  int Count(Role role) const;

 private:
  friend TokenChanges Compare(const Tokens& before, const Tokens& after);
  // The file's lines, checked; `webhook_` stays empty when it has no webhook line.
  static Result<Tokens> Parse(std::istream& in, const std::string& path);

  std::vector<std::pair<Role, std::string>> tokens_;
  std::string webhook_;
  bool webhook_generated_ = false;
};

// What a new Tokens changes from the one it replaces, in counts (never a secret).
struct TokenChanges {
  int added = 0;    // tokens (of either role) the new one has and the old one had not
  int removed = 0;  // tokens the old one had and the new one has not
  bool webhook_changed = false;
};
TokenChanges Compare(const Tokens& before, const Tokens& after);

// Equal strings, in time that depends only on the lengths.
bool ConstantTimeEquals(const std::string& a, const std::string& b);

}  // namespace zlh::api
