// zlhd's configuration (SPEC §7.2): the JSON file (proto/config.proto, documented in
// docs/config.md) parsed strictly, its defaults applied and every field validated, so that a bad
// file is refused at start with a message naming the field ("timing.readinessTimeout: ...").
//
// Thread-safety: pure functions; a Settings is a plain value.
#pragma once

#include <string>
#include <string_view>

#include <optional>

#include "base/duration.h"
#include "calendar/calendar.h"
#include "base/status.h"
#include "proto/config.pb.h"

namespace zlh::config {

// The shortest billing-webhook secret ever used (SPEC §7.1): a short key can be guessed.
constexpr size_t kMinWebhookSecret = 32;

// A validated configuration: the file's message with every default filled in, and its durations
// parsed.
struct Settings {
  proto::config::Config file;
  Millis proxmox_request_timeout{10'000};
  Millis proxmox_task_timeout{300'000};
  Millis proxmox_task_poll_interval{500};
  Millis agent_request_timeout{5'000};
  Millis readiness_probe_interval{5'000};
  Millis readiness_timeout{600'000};
  Millis lease_heartbeat_interval{10'000};
  Millis lease_poll_interval{30'000};
  Millis activity_timeout{30'000};
  Millis reconcile_interval{60'000};
  uint32_t max_repair_level = 1;
  uint32_t observe_concurrency = 32;
  Millis lock_ttl{15'000};
  Millis lease_stale_after{60'000};
  Millis stuck_provisioning{15 * 60'000};
  Millis stuck_workflow{30 * 60'000};
  Millis retention{7LL * 24 * 3'600'000};
  uint32_t repair_concurrency = 4;
  uint32_t repair_concurrency_per_host = 2;
  Millis backup_period{24LL * 3'600'000};
  Millis backup_grace{2LL * 3'600'000};
  // Mon-fri 09:00-18:00 UTC unless configured; zone is null only when the system has no tz
  // database (Defaults() cannot fail, so zlhd checks).
  calendar::BusinessHours business_hours;
  std::optional<int> digest_minute = 8 * 60;  // local minute of the day; nullopt: no digest
  // The daily journal backup (SPEC §11): its local minute of the day (nullopt: none) and how many
  // scheduled backups are kept.
  std::optional<int> backup_minute = 3 * 60 + 30;
  uint32_t backup_keep = 14;
  // A node takes a new server while its committed memory stays within this × its maxmem (§9.2).
  double memory_overcommit = 1.0;
  // email (SPEC §10); the section's fields are in `file.email()`.
  Millis email_fallback_after{5 * 60'000};
  Millis email_timeout{30'000};
  std::string email_password;  // email.passwordFile's first line
  bool HasEmail() const { return !file.email().smtp_url().empty(); }
  // api.tls (SPEC §11): the API serves HTTPS with these files (checked at load: api_tls.h).
  bool HasApiTls() const { return !file.api().tls().cert_file().empty(); }
  // redis.passwordFile's first line (AUTH); "" when none is configured.
  std::string redis_password;
  // notify (SPEC §10): the outbox's delivery.
  Millis notify_max_backoff{60'000};
  Millis notify_initial_backoff{1'000};
  Millis notify_attempt_timeout{10'000};
  uint32_t notify_concurrency = 4;
  Millis notify_keep_delivered{7LL * 24 * 3'600'000};
  Millis notify_keep_failed{30LL * 24 * 3'600'000};

  // The concurrency of `queue` (provision 1, operation 16, repair 4, control 1 unless configured).
  uint32_t QueueLimit(const std::string& queue) const;
  // The template of a game ("vanilla") or of dev containers ("dev"); nullptr when none.
  const proto::config::Template* FindTemplate(std::string_view name) const;
  bool HasPlan(std::string_view plan) const { return FindPlan(plan) != nullptr; }
  // The plan named `name`; nullptr when none.
  const proto::config::Plan* FindPlan(std::string_view name) const;
  // The address pool serving `node` (SPEC §9.1); nullptr when no pool does (always in dhcp mode).
  const proto::config::Pool* PoolOf(std::string_view node) const;
  // network.mode "dhcp": containers get ip=dhcp and their address is discovered after start.
  bool Dhcp() const { return file.network().mode() == kDhcpMode; }
  static constexpr const char* kDhcpMode = "dhcp";
};

// The defaults alone (no file).
Settings Defaults();
// Parses a config file's text. kInvalidArgument naming the field (or the JSON error) otherwise.
Result<Settings> Parse(std::string_view json);
// Reads and parses `path`. kInvalidArgument "config FILE: ..." when unreadable or bad.
Result<Settings> Load(const std::string& path);
// Points every service at one base URL (zlhd --fleet URL, a zlh-sim): Proxmox at URL, DNS at
// URL/client/v4, the proxy at URL/proxy, billing at URL/billing, agents at URL/agents/{vmid},
// Discord channels without a webhook at URL/api/webhooks/<channel>/sim. Credentials that are not
// configured get placeholders the simulator accepts.
void PointAtFleet(Settings& settings, const std::string& base_url);

}  // namespace zlh::config
