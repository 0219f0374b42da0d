#include "config/config.h"

#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <set>
#include <sstream>

#include "config/api_tls.h"
#include "config/email_settings.h"
#include "config/fleet_settings.h"
#include "config/password_file.h"

namespace zlh::config {
namespace {

namespace pc = proto::config;

Status Bad(std::string_view field, std::string_view problem) {
  return InvalidArgument(std::string(field) + ": " + std::string(problem));
}

// Parses `text` into *out when set; names `field` on error.
Status Duration(std::string_view field, const std::string& text, Millis* out) {
  if (text.empty()) return Status::Ok();
  auto d = ParseDuration(text);
  if (!d.ok()) return Bad(field, d.status().message());
  *out = *d;
  return Status::Ok();
}

Status Url(std::string_view field, const std::string& url) {
  if (url.empty() || url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) {
    return Status::Ok();
  }
  return Bad(field, "'" + url + "' is not an http:// or https:// URL");
}

void DefaultTemplates(pc::Config& c) {
  struct T {
    const char* name;
    int64_t vmid;
    const char* loader;
  };
  for (const T& t : {T{"vanilla", 9000, "fabric"}, T{"fabric", 9001, "fabric"},
                     T{"paper", 9002, "paper"}, T{"dev", 9003, ""}}) {
    pc::Template* tpl = c.add_templates();
    tpl->set_name(t.name);
    tpl->set_template_vmid(t.vmid);
    tpl->set_template_node("pve1");
    tpl->set_loader(t.loader);
  }
}

// Fills in every default of `c`.
void ApplyDefaults(pc::Config& c) {
  if (c.proxmox().storage().empty()) c.mutable_proxmox()->set_storage("local");
  if (c.dns().zone().empty()) c.mutable_dns()->set_zone("play.example");
  if (c.dns().zone_id().empty()) c.mutable_dns()->set_zone_id("zlh");
  if (c.proxy().public_port() == 0) c.mutable_proxy()->set_public_port(25565);
  if (c.proxy().game_port() == 0) c.mutable_proxy()->set_game_port(25565);
  if (c.proxy().public_address().empty()) c.mutable_proxy()->set_public_address("127.0.0.1");
  if (c.proxy().public_host().empty()) c.mutable_proxy()->set_public_host("proxy." + c.dns().zone());
  if (c.agent().url_template().empty()) c.mutable_agent()->set_url_template("http://{ip}:7070");
  if (!c.has_vmids()) {
    c.mutable_vmids()->set_first(100);
    c.mutable_vmids()->set_last(999);
  }
  if (c.templates().empty()) DefaultTemplates(c);
  ApplyFleetDefaults(c);
  if (c.servers_per_customer() == 0) c.set_servers_per_customer(5);
}

// A daily local time "HH:MM" into *minute when set, "off" resetting it; names `field` on error.
Status DailyAt(std::string_view field, const std::string& text, std::optional<int>* minute) {
  if (text == "off") {
    minute->reset();
  } else if (!text.empty()) {
    auto parsed = calendar::ParseClock(text);
    if (!parsed.ok()) return Bad(field, parsed.status().message() + " (or \"off\")");
    *minute = *parsed;
  }
  return Status::Ok();
}

// The backup section (SPEC §11) into `s`; kInvalidArgument naming the first bad field.
Status ValidateBackup(const pc::Backup& b, Settings& s) {
  if (!b.dir().empty() && b.dir()[0] != '/') return Bad("backup.dir", "must be an absolute path");
  ZLH_RETURN_IF_ERROR(DailyAt("backup.at", b.at(), &s.backup_minute));
  if (b.has_keep()) {
    if (b.keep() == 0) return Bad("backup.keep", "at least 1 (\"at\": \"off\" takes none)");
    s.backup_keep = b.keep();
  }
  return Status::Ok();
}

// The most attempts in flight notify.concurrency may ask for (each holds an HTTP worker).
constexpr uint32_t kMaxNotifyConcurrency = 64;

// The notify section (SPEC §10) into `s`; kInvalidArgument naming the first bad field.
Status ValidateNotify(const pc::Notify& n, Settings& s) {
  ZLH_RETURN_IF_ERROR(Duration("notify.maxBackoff", n.max_backoff(), &s.notify_max_backoff));
  ZLH_RETURN_IF_ERROR(
      Duration("notify.initialBackoff", n.initial_backoff(), &s.notify_initial_backoff));
  ZLH_RETURN_IF_ERROR(
      Duration("notify.attemptTimeout", n.attempt_timeout(), &s.notify_attempt_timeout));
  ZLH_RETURN_IF_ERROR(Duration("notify.keepDelivered", n.keep_delivered(), &s.notify_keep_delivered));
  ZLH_RETURN_IF_ERROR(Duration("notify.keepFailed", n.keep_failed(), &s.notify_keep_failed));
  for (auto [field, d] : {std::pair{"notify.maxBackoff", s.notify_max_backoff},
                          {"notify.initialBackoff", s.notify_initial_backoff},
                          {"notify.attemptTimeout", s.notify_attempt_timeout},
                          {"notify.keepDelivered", s.notify_keep_delivered},
                          {"notify.keepFailed", s.notify_keep_failed}}) {
    if (d.count() <= 0) return Bad(field, "must be longer than 0");
  }
  if (s.notify_initial_backoff > s.notify_max_backoff) {
    return Bad("notify.initialBackoff", "must not be longer than notify.maxBackoff (" +
                                            FormatDuration(s.notify_max_backoff) + ")");
  }
  if (n.concurrency() > kMaxNotifyConcurrency) {
    return Bad("notify.concurrency", "at most " + std::to_string(kMaxNotifyConcurrency));
  }
  if (n.concurrency() != 0) s.notify_concurrency = n.concurrency();
  return Status::Ok();
}

// How this node is reached and reaches Redis (SPEC §11): api.tls's files, redis.passwordFile's
// password into `s`.
Status ValidateNodeAccess(const pc::Config& c, Settings& s) {
  ZLH_RETURN_IF_ERROR(ValidateApiTls(c.api().tls()));
  if (!c.redis().password_file().empty()) {
    auto password = ReadPasswordFile("redis.passwordFile", c.redis().password_file());
    if (!password.ok()) return password.status();
    s.redis_password = std::move(*password);
  }
  return Status::Ok();
}

Status Validate(Settings& s) {
  const pc::Config& c = s.file;
  ZLH_RETURN_IF_ERROR(Url("proxmox.url", c.proxmox().url()));
  ZLH_RETURN_IF_ERROR(Url("dns.url", c.dns().url()));
  ZLH_RETURN_IF_ERROR(Url("proxy.url", c.proxy().url()));
  ZLH_RETURN_IF_ERROR(Url("billing.url", c.billing().url()));
  if (!c.billing().webhook_secret().empty() && c.billing().webhook_secret().size() < kMinWebhookSecret) {
    return Bad("billing.webhookSecret", "needs " + std::to_string(kMinWebhookSecret) +
                                            " characters or more (leave it out to have one generated)");
  }
  for (const auto& [channel, url] : c.discord().webhooks()) {
    if (url.empty()) return Bad("discord.webhooks." + channel, "empty URL");
    ZLH_RETURN_IF_ERROR(Url("discord.webhooks." + channel, url));
  }
  ZLH_RETURN_IF_ERROR(Duration("proxmox.requestTimeout", c.proxmox().request_timeout(),
                               &s.proxmox_request_timeout));
  ZLH_RETURN_IF_ERROR(
      Duration("proxmox.taskTimeout", c.proxmox().task_timeout(), &s.proxmox_task_timeout));
  ZLH_RETURN_IF_ERROR(Duration("proxmox.taskPollInterval", c.proxmox().task_poll_interval(),
                               &s.proxmox_task_poll_interval));
  ZLH_RETURN_IF_ERROR(
      Duration("agent.requestTimeout", c.agent().request_timeout(), &s.agent_request_timeout));
  const pc::Timing& t = c.timing();
  ZLH_RETURN_IF_ERROR(Duration("timing.readinessProbeInterval", t.readiness_probe_interval(),
                               &s.readiness_probe_interval));
  ZLH_RETURN_IF_ERROR(
      Duration("timing.readinessTimeout", t.readiness_timeout(), &s.readiness_timeout));
  ZLH_RETURN_IF_ERROR(Duration("timing.leaseHeartbeatInterval", t.lease_heartbeat_interval(),
                               &s.lease_heartbeat_interval));
  ZLH_RETURN_IF_ERROR(
      Duration("timing.leasePollInterval", t.lease_poll_interval(), &s.lease_poll_interval));
  ZLH_RETURN_IF_ERROR(
      Duration("timing.activityTimeout", t.activity_timeout(), &s.activity_timeout));
  const pc::Controller& ctl = c.controller();
  ZLH_RETURN_IF_ERROR(Duration("controller.reconcileInterval", ctl.reconcile_interval(),
                               &s.reconcile_interval));
  if (ctl.has_max_repair_level()) {
    if (ctl.max_repair_level() > 2) {
      return Bad("controller.maxRepairLevel", "0, 1 or 2 (level 3 repairs are never automatic)");
    }
    s.max_repair_level = ctl.max_repair_level();
  }
  if (ctl.observe_concurrency() != 0) s.observe_concurrency = ctl.observe_concurrency();
  ZLH_RETURN_IF_ERROR(Duration("controller.lockTtl", ctl.lock_ttl(), &s.lock_ttl));
  if (s.lock_ttl < Millis(300)) return Bad("controller.lockTtl", "must be at least 300ms");
  ZLH_RETURN_IF_ERROR(Duration("controller.leaseStaleAfter", ctl.lease_stale_after(),
                               &s.lease_stale_after));
  ZLH_RETURN_IF_ERROR(Duration("controller.stuckProvisioning", ctl.stuck_provisioning(),
                               &s.stuck_provisioning));
  ZLH_RETURN_IF_ERROR(Duration("controller.stuckWorkflow", ctl.stuck_workflow(), &s.stuck_workflow));
  ZLH_RETURN_IF_ERROR(Duration("controller.retention", ctl.retention(), &s.retention));
  if (ctl.repair_concurrency() != 0) s.repair_concurrency = ctl.repair_concurrency();
  if (ctl.repair_concurrency_per_host() != 0) {
    s.repair_concurrency_per_host = ctl.repair_concurrency_per_host();
  }
  ZLH_RETURN_IF_ERROR(Duration("controller.backupPeriod", ctl.backup_period(), &s.backup_period));
  ZLH_RETURN_IF_ERROR(Duration("controller.backupGrace", ctl.backup_grace(), &s.backup_grace));
  if (s.backup_period.count() <= 0) return Bad("controller.backupPeriod", "must be longer than 0");
  const pc::BusinessHours& bh = c.business_hours();
  auto hours = calendar::ParseBusinessHours(
      "businessHours", bh.time_zone(), {bh.days().begin(), bh.days().end()}, bh.hours());
  if (!hours.ok()) return hours.status();
  s.business_hours = *hours;
  ZLH_RETURN_IF_ERROR(DailyAt("controller.digestAt", ctl.digest_at(), &s.digest_minute));
  ZLH_RETURN_IF_ERROR(ValidateBackup(c.backup(), s));
  for (auto [field, d] : {std::pair{"timing.readinessProbeInterval", s.readiness_probe_interval},
                          {"controller.reconcileInterval", s.reconcile_interval},
                          {"timing.leaseHeartbeatInterval", s.lease_heartbeat_interval},
                          {"timing.leasePollInterval", s.lease_poll_interval},
                          {"timing.activityTimeout", s.activity_timeout},
                          {"proxmox.taskPollInterval", s.proxmox_task_poll_interval}}) {
    if (d.count() <= 0) return Bad(field, "must be longer than 0");
  }
  const std::string& tpl = c.agent().url_template();
  if (tpl.find("{ip}") == std::string::npos && tpl.find("{vmid}") == std::string::npos) {
    return Bad("agent.urlTemplate", "must contain {ip} or {vmid}");
  }
  ZLH_RETURN_IF_ERROR(Url("agent.urlTemplate", tpl));
  if (c.vmids().first() < 100) return Bad("vmids.first", "must be at least 100 (Proxmox)");
  if (c.vmids().last() > 999'999'999) return Bad("vmids.last", "must be at most 999999999");
  if (c.vmids().last() < c.vmids().first()) return Bad("vmids.last", "must not be below first");
  std::set<std::string> names;
  for (int i = 0; i < c.templates_size(); ++i) {
    const pc::Template& t2 = c.templates(i);
    std::string field = "templates[" + std::to_string(i) + "]";
    if (t2.name().empty()) return Bad(field + ".name", "required");
    if (!names.insert(t2.name()).second) return Bad(field + ".name", "'" + t2.name() + "' repeated");
    if (t2.template_vmid() <= 0) return Bad(field + ".templateVmid", "required, above 0");
    if (t2.template_node().empty()) return Bad(field + ".templateNode", "required");
  }
  ZLH_RETURN_IF_ERROR(ValidateFleet(c));
  auto overcommit = MemoryOvercommit(c);
  if (!overcommit.ok()) return overcommit.status();
  s.memory_overcommit = *overcommit;
  auto email = ValidateEmail(c.email());
  if (!email.ok()) return email.status();
  s.email_fallback_after = email->fallback_after;
  s.email_timeout = email->timeout;
  s.email_password = email->password;
  ZLH_RETURN_IF_ERROR(ValidateNotify(c.notify(), s));
  ZLH_RETURN_IF_ERROR(ValidateNodeAccess(c, s));
  static const std::set<std::string> kQueues = {"provision", "operation", "repair", "control"};
  for (const auto& [queue, limit] : c.queues()) {
    if (!kQueues.count(queue)) {
      return Bad("queues." + queue, "unknown queue (provision, operation, repair, control)");
    }
    if (limit == 0) return Bad("queues." + queue, "must be at least 1");
  }
  return Status::Ok();
}

}  // namespace

uint32_t Settings::QueueLimit(const std::string& queue) const {
  auto it = file.queues().find(queue);
  if (it != file.queues().end()) return it->second;
  if (queue == "operation") return 16;
  if (queue == "repair") return 4;
  return 1;  // provision (the platform's phase 1), control
}

const proto::config::Template* Settings::FindTemplate(std::string_view name) const {
  for (const auto& t : file.templates()) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

const proto::config::Plan* Settings::FindPlan(std::string_view name) const {
  for (const auto& p : file.plans()) {
    if (p.name() == name) return &p;
  }
  return nullptr;
}

const proto::config::Pool* Settings::PoolOf(std::string_view node) const {
  for (const auto& pool : file.network().pools()) {
    if (pool.nodes().empty()) return &pool;  // the built-in loopback pool: every node
    for (const auto& n : pool.nodes()) {
      if (n == node) return &pool;
    }
  }
  return nullptr;
}

Settings Defaults() {
  Settings s;
  ApplyDefaults(s.file);
  auto hours = calendar::ParseBusinessHours("businessHours", "UTC", {}, "");
  if (hours.ok()) s.business_hours = *hours;  // UTC is in every tz database
  return s;
}

Result<Settings> Parse(std::string_view json) {
  Settings s;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &s.file, options);
  if (!parsed.ok()) {
    std::string message(parsed.message());
    // Protobuf says "vmidz: Cannot find field."; say what it means.
    const std::string unknown = ": Cannot find field.";
    if (size_t at = message.find(unknown); at != std::string::npos) {
      message = message.substr(0, at) + ": unknown field";
    }
    return InvalidArgument(message);
  }
  ApplyDefaults(s.file);
  ZLH_RETURN_IF_ERROR(Validate(s));
  return s;
}

Result<Settings> Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return InvalidArgument("config " + path + ": cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  auto s = Parse(text.str());
  if (!s.ok()) return s.status().WithContext("config " + path);
  return s;
}

void PointAtFleet(Settings& settings, const std::string& base_url) {
  pc::Config& c = settings.file;
  c.mutable_proxmox()->set_url(base_url);
  if (c.proxmox().token().empty()) c.mutable_proxmox()->set_token("zlh@pve!zlh=00000000-0000-0000-0000-00000000517e");
  c.mutable_dns()->set_url(base_url + "/client/v4");
  if (c.dns().token().empty()) c.mutable_dns()->set_token("sim");
  c.mutable_proxy()->set_url(base_url + "/proxy");
  if (c.proxy().token().empty()) c.mutable_proxy()->set_token("sim");
  c.mutable_billing()->set_url(base_url + "/billing");
  if (c.billing().token().empty()) c.mutable_billing()->set_token("sim");
  c.mutable_agent()->set_url_template(base_url + "/agents/{vmid}");
  if (c.agent().token().empty()) c.mutable_agent()->set_token("sim");
  for (const char* channel : {"alerts-critical", "alerts-provisioning", "alerts-repairs",
                              "alerts-billing", "audit-log", "system-health"}) {
    auto& hooks = *c.mutable_discord()->mutable_webhooks();
    if (!hooks.count(channel)) hooks[channel] = base_url + "/api/webhooks/" + channel + "/sim";
  }
}

}  // namespace zlh::config
