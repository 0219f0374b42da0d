// What a reconcile tick tells (SPEC §6.5), as pure functions of its acts: the once-only alerts
// (#alerts-critical, #system-health, #alerts-billing), billing enforcement's notice
// (#alerts-billing) and the tick's #audit-log message in parts within Discord's limit. The texts
// are those the tick's notification steps posted before the outbox, so a history recorded then
// replays them unchanged.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controller/incidents.h"
#include "flows/steps.h"

namespace zlh::controller {

struct TickNews {
  std::vector<flows::Message> alerts;     // one per act whose alert is due, in act order
  std::optional<flows::Message> billing;  // the servers billing enforcement stopped or started
  std::vector<flows::Message> audit;      // the tick's #audit-log message, its parts in order
  // Alerts, billing notice, audit parts, in that order.
  std::vector<flows::Message> All() const;
};

// What tick `tick` tells of `acts` (as record_incidents returned them).
TickNews TickMessages(int64_t tick, const std::vector<Act>& acts);

// The alert of `act` (its `alert` due): where it goes and what it says.
flows::Message AlertOf(const Act& act);

// Tick `tick`'s #audit-log lines as messages within Discord's 2,000 characters, each headed by
// the tick ("Reconcile tick N:", then "Reconcile tick N (continued):").
std::vector<std::string> AuditParts(int64_t tick, const std::vector<std::string>& lines);

}  // namespace zlh::controller
