// zlhd's reload (zlhd_reload.h): Prepare reads and checks, Apply cannot fail, so a reload is
// either whole or refused.
#include "tools/zlhd_reload.h"

#include <memory>
#include <optional>
#include <utility>

namespace zlh::tools {
namespace {

// Everything a reload will apply, read and checked.
struct Prepared {
  config::Settings settings;
  api::Tokens tokens;
  std::shared_ptr<api::TlsContext> tls;  // null without HTTPS or when it would be turned on or off
};

Result<Prepared> Prepare(const ReloadTargets& t) {
  auto settings = t.read_config();
  if (!settings.ok()) return settings.status();
  auto tokens = api::Tokens::Load(t.tokens_path);
  if (!tokens.ok()) return tokens.status().WithContext("tokens");
  Prepared p{std::move(*settings), std::move(*tokens), nullptr};
  if (t.tls && p.settings.HasApiTls()) {
    const auto& files = p.settings.file.api().tls();
    auto loaded = api::TlsContext::Load(files.cert_file(), files.key_file());
    if (!loaded.ok()) return loaded.status().WithContext("api.tls");
    p.tls = std::move(*loaded);
  }
  return p;
}

const char* CertificateWord(Certificate c) {
  switch (c) {
    case Certificate::kLoaded:
      return "certificate loaded again";
    case Certificate::kKept:
      return "certificate kept";
    case Certificate::kNone:
      break;
  }
  return "plain HTTP";
}

}  // namespace

ReloadOutcome Reload(ReloadTargets& t) {
  ReloadOutcome out;
  auto prepared = Prepare(t);
  if (!prepared.ok()) {
    out.refused = prepared.status();
    return out;
  }
  Prepared& p = *prepared;
  out.needs_restart = config::NeedsRestart(t.settings, p.settings);
  out.routes = config::CompareRoutes(t.settings, p.settings);
  out.tokens = api::Compare(t.tokens, p.tokens);
  out.admin_tokens = p.tokens.Count(api::Role::kAdmin);
  out.portal_tokens = p.tokens.Count(api::Role::kPortal);
  out.certificate = p.tls ? Certificate::kLoaded : t.tls ? Certificate::kKept : Certificate::kNone;

  // From here nothing can fail, and nothing yields to the event loop.
  t.tokens = std::move(p.tokens);
  config::AdoptReloadable(t.settings, p.settings);
  t.outside.ReplaceRoutes(t.settings);
  notify::DispatcherOptions routes = notify::OptionsOf(t.settings, nullptr);
  t.dispatcher.UseRoutes(routes.email, std::move(routes.channels));
  if (p.tls) t.tls->Adopt(*p.tls);
  return out;
}

std::string Describe(const ReloadOutcome& o) {
  if (!o.refused.ok()) {
    return "reload refused, the running configuration and tokens are kept: " + o.refused.message();
  }
  std::string line = "reload applied: tokens admin " + std::to_string(o.admin_tokens) +
                     ", portal " + std::to_string(o.portal_tokens) + " (" +
                     std::to_string(o.tokens.added) + " added, " +
                     std::to_string(o.tokens.removed) + " removed" +
                     (o.tokens.webhook_changed ? ", webhook secret changed" : "") + "); discord " +
                     std::to_string(o.routes.discord_channels) + " channels (" +
                     std::to_string(o.routes.discord_changed) + " changed); email " +
                     (o.routes.email_changed ? "changed" : "unchanged") + "; business hours " +
                     (o.routes.business_hours_changed ? "changed" : "unchanged") + "; " +
                     CertificateWord(o.certificate);
  if (!o.needs_restart.empty()) {
    line += "; changed but kept until a restart: ";
    for (size_t i = 0; i < o.needs_restart.size(); ++i) {
      line += (i ? ", " : "") + o.needs_restart[i];
    }
  }
  return line;
}

}  // namespace zlh::tools
