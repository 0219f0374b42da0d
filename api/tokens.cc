#include "api/tokens.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "config/config.h"

namespace zlh::api {
namespace {

Result<std::string> RandomSecret() {
  unsigned char bytes[24];
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  if (!urandom.read(reinterpret_cast<char*>(bytes), sizeof bytes)) {
    return Status(Code::kIOError, "cannot read /dev/urandom");
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

Status WriteNew(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return Status(Code::kIOError, "cannot create " + tmp);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status(Code::kIOError, "cannot write " + path);
  }
  return Status::Ok();
}

// Appends `line` to the tokens file at `path` (its mode, 0600, is kept) and syncs it.
Status AppendLine(const std::string& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
  if (fd < 0) return Status(Code::kIOError, "cannot open " + path + " to append to it");
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Status(Code::kIOError, "cannot append to " + path);
  return Status::Ok();
}

bool EndsWithNewline(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in || in.tellg() == 0) return true;
  in.seekg(-1, std::ios::end);
  return in.get() == '\n';
}

}  // namespace

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

Result<Tokens> Tokens::LoadOrCreate(const std::string& path, bool* created) {
  *created = false;
  std::ifstream in(path);
  if (!in) {
    std::string text;
    for (const char* role : {"admin", "portal", "webhook"}) {
      auto secret = RandomSecret();
      if (!secret.ok()) return secret.status();
      text += std::string(role) + " " + *secret + "\n";
    }
    ZLH_RETURN_IF_ERROR(WriteNew(path, text));
    *created = true;
    in.open(path);
    if (!in) return Status(Code::kIOError, "cannot read " + path);
  }
  Tokens t;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string role, secret, extra;
    fields >> role >> secret >> extra;
    std::string where = path + " line " + std::to_string(n);
    if (secret.empty() || !extra.empty()) {
      return InvalidArgument(where + ": expected \"ROLE SECRET\"");
    }
    if (secret.size() < 16) return InvalidArgument(where + ": a secret needs 16 characters or more");
    if (role == "admin") {
      t.tokens_.emplace_back(Role::kAdmin, secret);
    } else if (role == "portal") {
      t.tokens_.emplace_back(Role::kPortal, secret);
    } else if (role == "webhook") {
      if (secret.size() < config::kMinWebhookSecret) {
        return InvalidArgument(where + ": a webhook secret needs " +
                               std::to_string(config::kMinWebhookSecret) + " characters or more");
      }
      t.webhook_ = secret;
    } else {
      return InvalidArgument(where + ": unknown role '" + role + "' (admin, portal, webhook)");
    }
  }
  if (t.webhook_.empty()) {
    // An operator-written file without a webhook secret: never run with an empty key (anyone could
    // sign with it). Generate one and keep it beside the tokens (SPEC §7.1).
    auto secret = RandomSecret();
    if (!secret.ok()) return secret.status();
    std::string appended =
        (EndsWithNewline(path) ? "" : "\n") + std::string("webhook ") + *secret + "\n";
    ZLH_RETURN_IF_ERROR(AppendLine(path, appended));
    t.webhook_ = *secret;
    t.webhook_generated_ = !*created;
  }
  return t;
}

Role Tokens::Authenticate(const Request& request) const {
  std::string auth = request.Header("authorization");
  const std::string prefix = "Bearer ";
  if (auth.rfind(prefix, 0) != 0) return Role::kNone;
  std::string token = auth.substr(prefix.size());
  Role found = Role::kNone;
  for (const auto& [role, secret] : tokens_) {
    if (ConstantTimeEquals(token, secret) && found == Role::kNone) found = role;
  }
  return found;
}

std::string Tokens::TokenOf(Role role) const {
  for (const auto& [r, secret] : tokens_) {
    if (r == role) return secret;
  }
  return "";
}

}  // namespace zlh::api
