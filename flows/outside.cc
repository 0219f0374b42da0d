#include "flows/outside.h"

#include <algorithm>

namespace zlh::flows {
namespace {

namespace pc = proto::config;

template <typename Options>
Options WithTls(Options o, const pc::Tls& tls) {
  o.verify_tls = !tls.insecure_skip_verify();
  o.ca_file = tls.ca_file();
  return o;
}

// Discord's webhooks and roles as configured, each post bounded by `timeout`.
activities::DiscordOptions DiscordOptionsOf(const pc::Discord& d, Millis timeout) {
  activities::DiscordOptions discord;
  discord.webhooks.insert(d.webhooks().begin(), d.webhooks().end());
  discord.roles.insert(d.roles().begin(), d.roles().end());
  discord.request_timeout = timeout;
  return discord;
}

// A notifier over `http`: Discord when webhooks are configured, else the log.
std::shared_ptr<activities::Notifier> NotifierOf(activities::HttpClient& http,
                                                 const pc::Discord& d, Millis timeout) {
  if (d.webhooks().empty()) return std::make_shared<activities::LogNotifier>();
  return std::make_shared<activities::DiscordNotifier>(http, DiscordOptionsOf(d, timeout));
}

// The email section's mailer; null when none is configured.
std::shared_ptr<activities::Mailer> MailerOf(const config::Settings& s) {
  if (!s.HasEmail()) return nullptr;
  return std::make_shared<activities::SmtpMailer>(SmtpOptionsOf(s));
}

}  // namespace

activities::ProbeOptions ProbeOptionsOf(const config::Settings& s) {
  const pc::Config& c = s.file;
  activities::ProbeOptions o;
  o.proxmox.base_url = c.proxmox().url();
  o.proxmox.token = c.proxmox().token();
  o.proxmox.request_timeout = s.proxmox_request_timeout;
  o.proxmox.task_timeout = s.proxmox_task_timeout;
  o.proxmox.task_poll_interval = s.proxmox_task_poll_interval;
  o.proxmox.container_storage = c.proxmox().container_storage();
  o.proxmox = WithTls(o.proxmox, c.proxmox().tls());
  o.dns.base_url = c.dns().url();
  o.dns.zone_id = c.dns().zone_id();
  o.dns.token = c.dns().token();
  o.dns.request_timeout = s.activity_timeout;
  o.dns = WithTls(o.dns, c.dns().tls());
  o.proxy.base_url = c.proxy().url();
  o.proxy.token = c.proxy().token();
  o.proxy.request_timeout = s.activity_timeout;
  o.proxy = WithTls(o.proxy, c.proxy().tls());
  o.billing.base_url = c.billing().url();
  o.billing.token = c.billing().token();
  o.billing.request_timeout = s.activity_timeout;
  o.billing = WithTls(o.billing, c.billing().tls());
  o.discord_timeout = s.activity_timeout;
  return o;
}

activities::SmtpOptions SmtpOptionsOf(const config::Settings& s) {
  const pc::Email& e = s.file.email();
  activities::SmtpOptions o;
  o.url = e.smtp_url();
  o.from = e.from();
  o.to.assign(e.to().begin(), e.to().end());
  o.username = e.username();
  o.password = s.email_password;
  o.ca_file = e.ca_file();
  o.timeout = s.email_timeout;
  return o;
}

Outside::Outside(const config::Settings& s)
    : settings_(s),
      notify_http_(std::make_unique<activities::HttpClient>(s.notify_concurrency)),
      notifications_(NotifierOf(*notify_http_, s.file.discord(), s.notify_attempt_timeout)),
      mailer_(MailerOf(s)) {
  const pc::Config& c = s.file;
  // Calls block a worker each (libcurl's easy interface): as many workers as the controller's
  // observation keeps in flight, so a 10,000-server tick is not throttled by threads.
  // The reconcile probes billing and the agents side by side, each observe.concurrency at once.
  http_ = std::make_unique<activities::HttpClient>(std::max<size_t>(8, 2 * s.observe_concurrency));

  activities::ProbeOptions services = ProbeOptionsOf(s);
  hypervisor_ = std::make_unique<activities::ProxmoxHypervisor>(*http_, services.proxmox);
  activities::ProxmoxBackupOptions backup;
  backup.storage = c.proxmox().storage();
  backups_ = std::make_unique<activities::ProxmoxBackups>(*http_, services.proxmox, backup);

  activities::AgentOptions agent;
  agent.url_template = c.agent().url_template();
  agent.token = c.agent().token();
  agent.request_timeout = s.agent_request_timeout;
  agent_ = std::make_unique<activities::HttpAgent>(*http_, WithTls(agent, c.agent().tls()));

  proxy_ = std::make_unique<activities::HttpProxy>(*http_, services.proxy);
  dns_ = std::make_unique<activities::CloudflareDns>(*http_, services.dns);
  billing_ = std::make_unique<activities::HttpBilling>(*http_, services.billing);
}

void Outside::ReplaceRoutes(const config::Settings& next) {
  notifications_.Replace(
      NotifierOf(*notify_http_, next.file.discord(), settings_.notify_attempt_timeout));
  mailer_.Replace(MailerOf(next));
}

Deps Outside::MakeDeps() const {
  Deps d;
  d.hypervisor = hypervisor_.get();
  d.agent = agent_.get();
  d.proxy = proxy_.get();
  d.dns = dns_.get();
  d.backups = backups_.get();
  d.billing = billing_.get();
  d.settings = &settings_;
  return d;
}

}  // namespace zlh::flows
