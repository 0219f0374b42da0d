// Outside: the HTTP activities of every outside service, built from the config (the endpoints and
// credentials of SPEC §7.2), and the Deps that point the ZLH workflows at them. The notification
// routes — Discord's webhooks and roles, the email settings — may be replaced while it runs (zlhd's
// reload, SPEC §11); every other service keeps what it was built with.
//
// Thread-safety: construct and destroy on one thread; the activities are shareable;
// ReplaceRoutes from any thread.
#pragma once

#include <memory>

#include "activities/agent_http.h"
#include "activities/backups_proxmox.h"
#include "activities/billing_http.h"
#include "activities/dns_http.h"
#include "activities/http_client.h"
#include "activities/notifier_discord.h"
#include "activities/probes.h"
#include "activities/replaceable.h"
#include "activities/smtp_mailer.h"
#include "activities/proxmox.h"
#include "activities/proxy_http.h"
#include "config/config.h"
#include "flows/flows.h"

namespace zlh::flows {

// Each service's endpoint, credentials, TLS and timeout as the config gives them (what Outside's
// activities use, and what zlhd --check-config probes).
activities::ProbeOptions ProbeOptionsOf(const config::Settings& settings);
// The mailer's options from the email section (SPEC §10); meaningful when settings.HasEmail().
activities::SmtpOptions SmtpOptionsOf(const config::Settings& settings);

class Outside {
 public:
  // `settings` must outlive this. With no Discord webhook configured, notifications are logged.
  explicit Outside(const config::Settings& settings);
  Outside(const Outside&) = delete;
  Outside& operator=(const Outside&) = delete;

  // Deps with every activity set (journal and engine left to the caller).
  Deps MakeDeps() const;
  activities::Billing& billing() { return *billing_; }
  // The notifier the outbox's dispatcher delivers through: Discord (or the log, without webhooks)
  // over its own HTTP client of notify.concurrency workers, each post bounded by
  // notify.attemptTimeout, so that a hung Discord holds none of the workers the activities (the
  // controller's observe among them) use.
  activities::Notifier& notifications() { return notifications_; }
  // The mailer of the email section; one that refuses every message (kFailedPrecondition) while
  // none is configured (settings.HasEmail()).
  activities::Mailer* mailer() { return &mailer_; }
  // Delivers through `next`'s Discord webhooks and roles and its email section from the next
  // message on (one in flight finishes where it began). notify.* stays as built.
  void ReplaceRoutes(const config::Settings& next);

 private:
  const config::Settings& settings_;
  std::unique_ptr<activities::HttpClient> http_;
  std::unique_ptr<activities::ProxmoxHypervisor> hypervisor_;
  std::unique_ptr<activities::HttpAgent> agent_;
  std::unique_ptr<activities::HttpProxy> proxy_;
  std::unique_ptr<activities::CloudflareDns> dns_;
  std::unique_ptr<activities::HttpBilling> billing_;
  std::unique_ptr<activities::ProxmoxBackups> backups_;
  std::unique_ptr<activities::HttpClient> notify_http_;
  activities::ReplaceableNotifier notifications_;
  activities::ReplaceableMailer mailer_;
};

}  // namespace zlh::flows
