#include "controller/incidents.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>

#include "base/clock.h"
#include "fleet/tables.h"
#include "proto/records.pb.h"
#include "workflows/lookup.h"

namespace zlh::controller {
namespace {

namespace json = boost::json;

constexpr int64_t kHourMs = 3'600'000;

// The summary of the repair workflow started under `dedup_key` (status 0 when not started yet).
Result<proto::WorkflowSummary> RepairSummary(journal::Txn& t, const std::string& dedup_key) {
  auto found = workflows::SummaryByDedupKey(t, dedup_key);
  if (!found.ok()) return found.status();
  return found->value_or(proto::WorkflowSummary());
}

bool Terminal(int status) {
  return status == proto::COMPLETED || status == proto::FAILED || status == proto::CANCELLED;
}

}  // namespace

Result<json::array> BreakersJson(const journal::Journal& journal, int64_t now_ms) {
  auto rows = fleet::ListBreakers(journal);
  if (!rows.ok()) return rows.status();
  json::array out;
  for (const auto& b : *rows) {
    std::vector<int64_t> recent;
    for (int64_t at : b.repairs_ms()) {
      if (now_ms - at < kHourMs) recent.push_back(at);
    }
    if (recent.empty()) continue;
    bool open = recent.size() >= kBreakerRepairsPerHour;
    out.push_back(json::object{
        {"serverId", b.server_id()},
        {"kind", "repairs_per_hour"},
        {"count", recent.size()},
        {"openUntil", open ? json::value(FormatRfc3339(*std::min_element(recent.begin(), recent.end()) + kHourMs))
                           : json::value(nullptr)}});
  }
  return out;
}

std::string RepairDedupKey(const Act& a) {
  std::string key = "repair\x1f" + a.decision.server_id + "\x1f" + a.decision.drift + "\x1f" +
                    std::to_string(a.first_tick) + "\x1f";
  return a.outcome == "exhausted_propose" ? key + "restore_backup" : key + std::to_string(a.attempt);
}

RepairLimits RepairLimits::Of(const Observation& observation, int64_t global, int64_t per_host) {
  RepairLimits l;
  l.global = global;
  l.per_host = per_host;
  l.observed_ms = observation.observed_ms;
  for (const ServerObservation& s : observation.servers) {
    l.node_of[s.server_id] = s.node;
    l.in_flight += s.repairs_in_flight;
    l.in_flight_by_node[s.node] += s.repairs_in_flight;
    if (s.open_proposal) l.open_proposals.insert(s.server_id);
    if (s.repairs_in_flight > 0) l.busy.insert(s.server_id);
  }
  return l;
}

Result<std::vector<Act>> RecordIncidents(journal::Txn& t, const std::vector<Decision>& decisions,
                                         int64_t tick, int64_t now_ms, FencingToken fencing,
                                         RepairLimits limits) {
  if (fencing.value != 0) {
    ZLH_RETURN_IF_ERROR(fleet::AcceptFencingToken(t, fencing.source, fencing.value));
  }
  auto open = fleet::ListIncidents(t);
  if (!open.ok()) return open.status();
  std::map<std::pair<std::string, std::string>, proto::Incident> incidents;
  for (auto& i : *open) incidents[{i.server_id(), i.drift()}] = i;
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<Act> acts;
  for (const Decision& d : decisions) {
    std::pair<std::string, std::string> key{d.server_id, d.drift};
    seen.insert(key);
    proto::Incident& incident = incidents[key];
    if (incident.server_id().empty()) {
      incident.set_server_id(d.server_id);
      incident.set_drift(d.drift);
      incident.set_first_tick(tick);
    }
    Act act{d, incident.first_tick(), d.action, 0, false, "", true};
    if (d.action == "notify" || d.action == "notice") {
      act.alert = !incident.alerted();
      incident.set_alerted(true);
    } else if (d.action == "fail_stuck") {
      if (incident.attempts() == 0) {
        incident.set_attempts(1);
        act.outcome = "fail";
      } else {
        act.outcome = "in_progress";
      }
    } else if (d.action == "billing_stop" || d.action == "billing_start") {
      // One operation per incident (its nonce is the incident's first tick).
      if (incident.attempts() == 0) {
        incident.set_attempts(1);
        act.outcome = "billing";
      } else {
        act.outcome = "in_progress";
      }
    } else if (d.action == "billing_apply") {
      // Applied in this very write, recorded on the customer's billing stream; alerted once.
      if (incident.attempts() == 0) {
        incident.set_attempts(1);
        const std::string& customer = d.customer_id;
        auto applied = fleet::ApplyBillingEvent(
            t, "reconcile:" + std::to_string(tick) + ":" + customer, customer, d.value,
            R"({"type":")" + std::string(d.value == "suspended" ? "customer.suspended" : "customer.reactivated") +
                R"(","source":"reconcile"})");
        if (!applied.ok()) return applied.status();
        act.outcome = "applied";
        act.alert = true;
      } else {
        act.outcome = "in_progress";
      }
    } else if (d.action == "propose") {
      // One open destructive candidate per server until the operator reviews it (§6.3).
      if (incident.attempts() > 0) {
        act.outcome = "proposed";
      } else if (limits.open_proposals.count(d.server_id)) {
        act.outcome = "limited";
        act.breaker = "open_proposal";
      } else {
        incident.set_attempts(1);
        act.attempt = 1;
        limits.open_proposals.insert(d.server_id);
      }
    } else if (d.action == "repair") {
      bool start = true;
      if (incident.attempts() > 0) {
        Act last = act;
        last.attempt = incident.attempts();
        auto summary = RepairSummary(t, RepairDedupKey(last));
        if (!summary.ok()) return summary.status();
        // Still running, or ended after this tick observed (its effect may not show yet): the
        // next tick judges it.
        bool judged_later = !Terminal(summary->status()) ||
                            (limits.observed_ms > 0 && summary->updated_ms() > limits.observed_ms);
        // A repair its own check refused (a lease or maintenance came between observing and
        // acting) did not try: it does not count towards the attempts' limit.
        // Counted once, though a limit may keep the next attempt waiting for several ticks.
        if (!judged_later && incident.judged() < incident.attempts() &&
            summary->status() == proto::FAILED &&
            CodeFromName(summary->error().code()) == Code::kHeld) {
          incident.set_refused(incident.refused() + 1);
          // Nor does it count for the breaker: its entry (the newest made before the attempt's
          // workflow was, others may have come since) goes.
          auto breaker = fleet::GetBreaker(t, d.server_id);
          if (!breaker.ok()) return breaker.status();
          auto* repairs = breaker->mutable_repairs_ms();
          int entry = -1;
          for (int i = 0; i < repairs->size(); ++i) {
            if (repairs->Get(i) <= summary->created_ms() && (entry < 0 || repairs->Get(i) >= repairs->Get(entry))) {
              entry = i;
            }
          }
          if (entry < 0 && !repairs->empty()) entry = repairs->size() - 1;
          if (entry >= 0) {
            repairs->erase(repairs->begin() + entry);
            fleet::PutBreaker(t, *breaker);
          }
        }
        if (!judged_later) incident.set_judged(incident.attempts());
        if (judged_later) {
          start = false;
          act.outcome = "in_progress";
        } else if (incident.attempts() - incident.refused() >= kMaxRepairAttempts) {
          start = false;
          act.outcome = "exhausted";
          act.alert = !incident.alerted();
          // A level-2 repair failed 3 times: restore_backup is proposed (level 3), once (§6.1);
          // while the server has another destructive proposal open, once that one is answered.
          if (d.level == 2 && (act.alert || incident.restore_pending())) {
            if (limits.open_proposals.count(d.server_id)) {
              act.breaker = "open_proposal";
              incident.set_restore_pending(true);
            } else {
              act.outcome = "exhausted_propose";
              incident.set_restore_pending(false);
              limits.open_proposals.insert(d.server_id);
            }
          }
          incident.set_alerted(true);
        }
      }
      // The concurrency limits (§6.3): the repair waits for a later tick; nothing is counted.
      const std::string& node = limits.node_of[d.server_id];
      if (start && d.level > 0) {
        if (limits.busy.count(d.server_id)) {
          start = false;
          act.outcome = "limited";
          act.breaker = "server_busy";
        } else if (limits.in_flight >= limits.global) {
          start = false;
          act.outcome = "limited";
          act.breaker = "repair_concurrency";
        } else if (limits.in_flight_by_node[node] >= limits.per_host) {
          start = false;
          act.outcome = "limited";
          act.breaker = "host_concurrency";
        }
      }
      if (start && d.level > 0) {
        auto breaker = fleet::GetBreaker(t, d.server_id);
        if (!breaker.ok()) return breaker.status();
        proto::Breaker kept;
        kept.set_server_id(d.server_id);
        kept.set_alerted_ms(breaker->alerted_ms());
        for (int64_t at : breaker->repairs_ms()) {
          if (now_ms - at < kHourMs) kept.add_repairs_ms(at);
        }
        if (static_cast<size_t>(kept.repairs_ms_size()) >= kBreakerRepairsPerHour) {
          start = false;
          act.outcome = "breaker";
          act.breaker = "repairs_per_hour";
          act.alert = now_ms - kept.alerted_ms() >= kHourMs;
          if (act.alert) kept.set_alerted_ms(now_ms);
        } else {
          kept.add_repairs_ms(now_ms);
        }
        fleet::PutBreaker(t, kept);
      }
      if (start) {
        incident.set_attempts(incident.attempts() + 1);
        act.outcome = "repair";
        act.attempt = incident.attempts();
        if (d.level > 0) {
          ++limits.in_flight;
          ++limits.in_flight_by_node[node];
          limits.busy.insert(d.server_id);
        }
      }
    }
    static const std::set<std::string> kActions{"repair", "propose", "exhausted_propose", "billing",
                                                "fail", "applied"};
    act.news = act.alert || kActions.count(act.outcome) || act.outcome != incident.last_outcome();
    incident.set_last_outcome(act.outcome);
    fleet::PutIncident(t, incident);
    acts.push_back(std::move(act));
  }
  for (const auto& [key, incident] : incidents) {
    if (!seen.count(key)) fleet::DeleteIncident(t, key.first, key.second);
  }
  return acts;
}

std::string ToJson(const std::vector<Act>& acts) {
  json::array out;
  for (const auto& a : acts) {
    out.push_back(json::object{{"firstTick", a.first_tick}, {"outcome", a.outcome},
                               {"attempt", a.attempt},      {"alert", a.alert},
                               {"breaker", a.breaker},      {"news", a.news}});
  }
  return json::serialize(out);
}

Result<std::vector<Act>> ParseActs(const std::string& text, const std::vector<Decision>& decisions) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array() || v.as_array().size() != decisions.size()) {
    return Status(Code::kCorruption, "record_incidents: unreadable result");
  }
  std::vector<Act> out;
  for (size_t i = 0; i < decisions.size(); ++i) {
    const json::object& o = v.as_array()[i].as_object();
    const json::value* breaker = o.if_contains("breaker");
    const json::value* news = o.if_contains("news");
    out.push_back({decisions[i], o.at("firstTick").as_int64(), std::string(o.at("outcome").as_string()),
                   static_cast<uint32_t>(o.at("attempt").as_int64()), o.at("alert").as_bool(),
                   breaker && breaker->is_string() ? std::string(breaker->as_string()) : "",
                   !news || !news->is_bool() || news->as_bool()});
  }
  return out;
}

}  // namespace zlh::controller
