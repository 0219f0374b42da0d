#include "api/tokens.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
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

// A line of `role` with `secret`, where `earlier` are the lines that role already has:
// kInvalidArgument at `where` for an unknown role, a third token of a role, a second webhook line
// or a short webhook secret.
Status CheckLine(const std::string& where, const std::string& role, const std::string& secret,
                 const std::vector<int>& earlier) {
  if (role == "admin" || role == "portal") {
    if (static_cast<int>(earlier.size()) < Tokens::kMaxPerRole) return Status::Ok();
    return InvalidArgument(where + ": a third " + role + " token (lines " +
                           std::to_string(earlier[0]) + " and " + std::to_string(earlier[1]) +
                           " hold two): at most two per role, the new one and the old one while "
                           "it is rotated");
  }
  if (role != "webhook") {
    return InvalidArgument(where + ": unknown role '" + role + "' (admin, portal, webhook)");
  }
  if (!earlier.empty()) {
    return InvalidArgument(where + ": a second webhook secret (line " +
                           std::to_string(earlier[0]) + " has one): one only");
  }
  if (secret.size() < config::kMinWebhookSecret) {
    return InvalidArgument(where + ": a webhook secret needs " +
                           std::to_string(config::kMinWebhookSecret) + " characters or more");
  }
  return Status::Ok();
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

Result<Tokens> Tokens::Parse(std::istream& in, const std::string& path) {
  Tokens t;
  std::map<std::string, int> line_of;  // secret -> its line
  std::map<std::string, std::vector<int>> lines_of_role;
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
    ZLH_RETURN_IF_ERROR(CheckLine(where, role, secret, lines_of_role[role]));
    if (auto [it, fresh] = line_of.emplace(secret, n); !fresh) {
      return InvalidArgument(where + ": the same secret as line " + std::to_string(it->second) +
                             " (every token and secret must be different)");
    }
    lines_of_role[role].push_back(n);
    if (role == "webhook") {
      t.webhook_ = secret;
    } else {
      t.tokens_.emplace_back(role == "admin" ? Role::kAdmin : Role::kPortal, secret);
    }
  }
  return t;
}

Result<Tokens> Tokens::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(Code::kIOError, "cannot read " + path);
  auto t = Parse(in, path);
  if (!t.ok()) return t.status();
  if (t->webhook_.empty()) {
    return InvalidArgument(path + ": no webhook line (the billing webhook's secret, which zlhd "
                                  "writes at its first start): keep it");
  }
  return t;
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
  auto t = Parse(in, path);
  if (!t.ok()) return t.status();
  if (t->webhook_.empty()) {
    // An operator-written file without a webhook secret: never run with an empty key (anyone could
    // sign with it). Generate one and keep it beside the tokens (SPEC §7.1).
    auto secret = RandomSecret();
    if (!secret.ok()) return secret.status();
    std::string appended =
        (EndsWithNewline(path) ? "" : "\n") + std::string("webhook ") + *secret + "\n";
    ZLH_RETURN_IF_ERROR(AppendLine(path, appended));
    t->webhook_ = *secret;
    t->webhook_generated_ = !*created;
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

int Tokens::Count(Role role) const {
  return static_cast<int>(std::count_if(tokens_.begin(), tokens_.end(),
                                        [role](const auto& token) { return token.first == role; }));
}

TokenChanges Compare(const Tokens& before, const Tokens& after) {
  auto missing_from = [](const Tokens& from, const Tokens& in) {
    return static_cast<int>(std::count_if(in.tokens_.begin(), in.tokens_.end(), [&](const auto& t) {
      return std::find(from.tokens_.begin(), from.tokens_.end(), t) == from.tokens_.end();
    }));
  };
  return {missing_from(before, after), missing_from(after, before),
          before.webhook_ != after.webhook_};
}

}  // namespace zlh::api
