// zlhd's reload (SIGHUP, SPEC §11): the config file, the tokens file and api.tls's certificate read
// again and checked, all of them, before anything changes; then, at once, the new tokens (two per
// role during a rotation), Discord's webhooks and roles, the email settings, business hours and
// the certificate for new connections. One bad file refuses the reload and keeps everything as it
// was. Fields that only a restart applies (config/reload.h) are named and keep their running
// values.
//
// Thread-safety: Reload on the event loop's thread, where every request and workflow reads the
// settings and tokens: none sees half a reload. A request already authorized runs to its end.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/tls_context.h"
#include "api/tokens.h"
#include "base/status.h"
#include "config/config.h"
#include "config/reload.h"
#include "flows/outside.h"
#include "notify/dispatcher.h"

namespace zlh::tools {

// What a reload reads and what it changes: the node's running parts, which must outlive it.
struct ReloadTargets {
  // The config as a start would read it now (the command line's overrides applied), pointed at the
  // running fleet; kInvalidArgument naming the file and the field when it is bad.
  std::function<Result<config::Settings>()> read_config;
  std::string tokens_path;
  config::Settings& settings;
  api::Tokens& tokens;
  api::TlsContext* tls = nullptr;  // null: plain HTTP
  flows::Outside& outside;
  notify::Dispatcher& dispatcher;
};

// What became of api.tls's certificate.
enum class Certificate {
  kNone,    // plain HTTP
  kLoaded,  // loaded again from api.tls's files: new connections get it
  kKept,    // HTTPS would be turned on or off: a restart does that; the running one stays
};

// What one reload came to.
struct ReloadOutcome {
  Status refused;  // OK when applied; else why nothing changed
  int admin_tokens = 0, portal_tokens = 0;
  api::TokenChanges tokens;
  config::RouteChanges routes;
  Certificate certificate = Certificate::kNone;
  std::vector<std::string> needs_restart;  // changed fields kept at their running values
};

// Reads and checks everything, then applies all of it, or nothing when anything is bad.
ReloadOutcome Reload(ReloadTargets& targets);

// The outcome as one log line: counts and field names, never a secret.
std::string Describe(const ReloadOutcome& outcome);

}  // namespace zlh::tools
