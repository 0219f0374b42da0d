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

}  // namespace

Outside::Outside(const config::Settings& s) : settings_(s) {
  const pc::Config& c = s.file;
  // Calls block a worker each (libcurl's easy interface): as many workers as the controller's
  // observation keeps in flight, so a 10,000-server tick is not throttled by threads.
  http_ = std::make_unique<activities::HttpClient>(std::max<size_t>(8, s.observe_concurrency));

  activities::ProxmoxOptions pve;
  pve.base_url = c.proxmox().url();
  pve.token = c.proxmox().token();
  pve.request_timeout = s.proxmox_request_timeout;
  pve.task_timeout = s.proxmox_task_timeout;
  pve.task_poll_interval = s.proxmox_task_poll_interval;
  pve.container_storage = c.proxmox().container_storage();
  pve = WithTls(pve, c.proxmox().tls());
  hypervisor_ = std::make_unique<activities::ProxmoxHypervisor>(*http_, pve);
  activities::ProxmoxBackupOptions backup;
  backup.storage = c.proxmox().storage();
  backups_ = std::make_unique<activities::ProxmoxBackups>(*http_, pve, backup);

  activities::AgentOptions agent;
  agent.url_template = c.agent().url_template();
  agent.token = c.agent().token();
  agent.request_timeout = s.agent_request_timeout;
  agent_ = std::make_unique<activities::HttpAgent>(*http_, WithTls(agent, c.agent().tls()));

  activities::ProxyOptions proxy;
  proxy.base_url = c.proxy().url();
  proxy.token = c.proxy().token();
  proxy.request_timeout = s.activity_timeout;
  proxy_ = std::make_unique<activities::HttpProxy>(*http_, WithTls(proxy, c.proxy().tls()));

  activities::CloudflareOptions dns;
  dns.base_url = c.dns().url();
  dns.zone_id = c.dns().zone_id();
  dns.token = c.dns().token();
  dns.request_timeout = s.activity_timeout;
  dns_ = std::make_unique<activities::CloudflareDns>(*http_, WithTls(dns, c.dns().tls()));

  activities::BillingOptions billing;
  billing.base_url = c.billing().url();
  billing.token = c.billing().token();
  billing.request_timeout = s.activity_timeout;
  billing_ = std::make_unique<activities::HttpBilling>(*http_, WithTls(billing, c.billing().tls()));

  if (c.discord().webhooks().empty()) {
    notifier_ = std::make_unique<activities::LogNotifier>();
  } else {
    activities::DiscordOptions discord;
    discord.webhooks.insert(c.discord().webhooks().begin(), c.discord().webhooks().end());
    discord.roles.insert(c.discord().roles().begin(), c.discord().roles().end());
    discord.request_timeout = s.activity_timeout;
    notifier_ = std::make_unique<activities::DiscordNotifier>(*http_, discord);
  }
}

Deps Outside::MakeDeps() const {
  Deps d;
  d.hypervisor = hypervisor_.get();
  d.agent = agent_.get();
  d.proxy = proxy_.get();
  d.dns = dns_.get();
  d.backups = backups_.get();
  d.notifier = notifier_.get();
  d.billing = billing_.get();
  d.settings = &settings_;
  return d;
}

}  // namespace zlh::flows
