#include "workflows/verify.h"

#include <map>
#include <set>

#include "journal/format.h"
#include "proto/records.pb.h"
#include "workflows/history.h"
#include "workflows/view.h"

namespace zlh::workflows {
namespace {

bool IsTerminal(int status) {
  return status == proto::COMPLETED || status == proto::FAILED || status == proto::CANCELLED;
}

// The status the history's last end (or retry) implies: 0 when it has not ended.
int EndedAs(const std::vector<proto::Event>& events) {
  int ended = 0;
  for (const proto::Event& e : events) {
    if (e.has_workflow_completed()) ended = proto::COMPLETED;
    if (e.has_workflow_failed()) ended = proto::FAILED;
    if (e.has_workflow_cancelled()) ended = proto::CANCELLED;
    if (e.has_workflow_retried()) ended = 0;
  }
  return ended;
}

// The timers the history still waits on: (fire_at, step).
std::set<std::pair<int64_t, uint32_t>> PendingTimers(const std::vector<proto::Event>& events) {
  std::map<uint32_t, int64_t> scheduled;
  for (const proto::Event& e : events) {
    if (e.has_timer_scheduled()) scheduled[e.timer_scheduled().step()] = e.timer_scheduled().fire_at_ms();
    if (e.has_timer_fired()) scheduled.erase(e.timer_fired().step());
    if (e.has_step_completed()) scheduled.erase(e.step_completed().step());
    if (e.has_step_failed()) scheduled.erase(e.step_failed().step());
  }
  std::set<std::pair<int64_t, uint32_t>> out;
  for (auto [step, fire_at] : scheduled) out.emplace(fire_at, step);
  return out;
}

}  // namespace

Result<std::vector<Violation>> Verify(const journal::Journal& journal) {
  std::vector<Violation> out;
  auto flag = [&](std::string subject, std::string what) {
    out.push_back({std::move(subject), std::move(what)});
  };

  // Indexes, loaded once: status by workflow, dedup key -> workflow, timers by workflow.
  std::map<std::string, std::vector<int>> status_index;
  std::map<std::string, std::string> dedup_index;
  std::map<std::string, std::set<std::pair<int64_t, uint32_t>>> timer_index;
  Status s = journal.Scan(journal::Cf::kIndex, "", [&](std::string_view key, std::string_view value) {
    if (key.empty()) return true;
    switch (key[0]) {
      case journal::kIndexStatus:
        if (key.size() > 2) status_index[std::string(key.substr(2))].push_back(static_cast<uint8_t>(key[1]));
        break;
      case journal::kIndexDedup:
        dedup_index[std::string(key.substr(1))] = std::string(value);
        break;
      case journal::kIndexTimer:
        if (key.size() > 1 + 8 + 1 + 4) {
          std::string_view rest = key.substr(9, key.size() - 9 - 5);
          timer_index[std::string(rest)].emplace(static_cast<int64_t>(journal::GetU64(key.substr(1))),
                                                 journal::GetU32(key.substr(key.size() - 4)));
        }
        break;
      default:
        flag("index", "unknown index entry with prefix byte " + std::to_string(static_cast<int>(key[0])));
    }
    return true;
  });
  ZLH_RETURN_IF_ERROR(s);

  // Every stream (workflows' and system streams alike): gap-free from 1.
  std::string current;
  uint64_t expected = 1;
  s = journal.Scan(journal::Cf::kEvents, "", [&](std::string_view key, std::string_view) {
    std::string_view stream;
    uint64_t seq = journal::EventKeySeq(key, &stream);
    if (stream != current) {
      current = std::string(stream);
      expected = 1;
    }
    if (seq != expected) {
      flag(current, "event sequence has a gap: seq " + std::to_string(seq) + " follows " +
                        std::to_string(expected - 1));
    }
    expected = seq + 1;
    return true;
  });
  ZLH_RETURN_IF_ERROR(s);

  // Every workflow: its summary against its history and the indexes.
  std::set<std::string> workflows;
  Status read_error;
  s = journal.Scan(journal::Cf::kSummaries, "", [&](std::string_view key, std::string_view value) {
    std::string id(key);
    workflows.insert(id);
    proto::WorkflowSummary summary;
    if (!summary.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      flag(id, "summary cannot be decoded");
      return true;
    }
    auto events = journal.ReadEvents(id);
    if (!events.ok()) {
      read_error = events.status();
      return false;
    }
    if (events->empty()) {
      flag(id, "has a summary but no events");
      return true;
    }
    if (!events->front().has_workflow_started()) {
      flag(id, "history does not start with WorkflowStarted");
      return true;
    }
    const proto::WorkflowStarted& started = events->front().workflow_started();
    if (started.type() != summary.type()) {
      flag(id, "summary says type '" + summary.type() + "', history says '" + started.type() + "'");
    }
    int ended = EndedAs(*events);
    bool stopped_by_code_change = summary.status() == proto::FAILED &&
                                  summary.error().code() == "non_determinism" && ended == 0;
    if (ended != 0 && summary.status() != ended) {
      flag(id, "summary says " + StatusName(summary.status()) + " but the history ended " +
                   StatusName(ended));
    } else if (ended == 0 && IsTerminal(summary.status()) && !stopped_by_code_change) {
      flag(id, "summary says " + StatusName(summary.status()) + " but the history has not ended");
    }
    auto indexed = status_index.find(id);
    if (indexed == status_index.end()) {
      flag(id, "missing from the status index");
    } else {
      if (indexed->second.size() != 1 || indexed->second[0] != summary.status()) {
        std::string listed;
        for (int st : indexed->second) listed += (listed.empty() ? "" : ", ") + StatusName(st);
        flag(id, "status index lists " + listed + ", summary says " + StatusName(summary.status()));
      }
      status_index.erase(indexed);
    }
    if (!started.dedup_key().empty()) {
      auto d = dedup_index.find(started.dedup_key());
      if (d == dedup_index.end()) {
        flag(id, "dedup key '" + started.dedup_key() + "' is missing from the dedup index");
      } else if (d->second != id) {
        flag(id, "dedup key '" + started.dedup_key() + "' names another workflow, " + d->second);
      }
    }
    auto pending = IsTerminal(summary.status()) && !stopped_by_code_change
                       ? std::set<std::pair<int64_t, uint32_t>>()
                       : PendingTimers(*events);
    auto t = timer_index.find(id);
    auto indexed_timers = t == timer_index.end() ? std::set<std::pair<int64_t, uint32_t>>() : t->second;
    if (t != timer_index.end()) timer_index.erase(t);
    for (const auto& [fire_at, step] : pending) {
      if (!indexed_timers.count({fire_at, step})) {
        flag(id, "timer of step " + std::to_string(step) + " is missing from the timer index");
      }
    }
    for (const auto& [fire_at, step] : indexed_timers) {
      if (!pending.count({fire_at, step})) {
        flag(id, "timer index holds step " + std::to_string(step) +
                     ", which the history does not wait on");
      }
    }
    return true;
  });
  ZLH_RETURN_IF_ERROR(s);
  ZLH_RETURN_IF_ERROR(read_error);

  for (const auto& [id, statuses] : status_index) flag(id, "status index names a workflow with no summary");
  for (const auto& [id, timers] : timer_index) flag(id, "timer index names a workflow with no summary");
  for (const auto& [key, id] : dedup_index) {
    if (!workflows.count(id)) flag(id, "dedup key '" + key + "' names a workflow with no summary");
  }
  return out;
}

}  // namespace zlh::workflows
