// What a reload of zlhd's config (SIGHUP, SPEC §11) may change while it runs, and what only a
// restart applies. Taken at once: Discord's webhooks and roles, the email section (its
// passwordFile read again), businessHours, and api.tls's certificate and key files while HTTPS
// stays on. Every other field — the services' endpoints and credentials, timings, controller,
// queues, plans, templates, network, backup, notify, redis — keeps its running value until the
// next start.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace zlh::config {

// The fields where `next` differs from `running` that only a restart applies, by their dotted
// JSON names ("proxmox.url", "controller.reconcileInterval", "templates": a repeated field or a map
// as a whole), in the file's field order; empty when there is none. Never a value (some are
// secrets). Also "api.tls" when HTTPS would be turned on or off, "redis.passwordFile" when the
// password it holds changed, and "businessHours.timeZone (for controller.digestAt and backup.at)"
// when the zone changed and a daily digest or backup is scheduled: their schedules keep the zone
// they were made with (the business hours themselves take the new one).
std::vector<std::string> NeedsRestart(const Settings& running, const Settings& next);

// Gives `running` the reloadable parts of `next`: discord, email (with its password and
// durations), businessHours, and api.tls unless HTTPS would be turned on or off.
void AdoptReloadable(Settings& running, const Settings& next);

// What the reloadable parts of `next` change from `running`, in counts (never a URL: webhooks are
// secrets).
struct RouteChanges {
  int discord_channels = 0;  // channels with a webhook in `next`
  int discord_changed = 0;   // channels whose webhook or role was added, removed or changed
  bool email_changed = false;
  bool business_hours_changed = false;
};
RouteChanges CompareRoutes(const Settings& running, const Settings& next);

}  // namespace zlh::config
