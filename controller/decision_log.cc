#include "controller/decision_log.h"

namespace zlh::controller {

void DecisionLog::Add(Entry e) {
  for (const auto& x : entries_) {
    if (x.tick == e.tick && x.server_id == e.server_id && x.drift == e.drift) return;
  }
  entries_.push_back(std::move(e));
  while (entries_.size() > kKept) entries_.pop_front();
}

void DecisionLog::TickDone(int64_t, int64_t at_ms) {
  if (at_ms > last_tick_ms_) last_tick_ms_ = at_ms;
}

boost::json::array DecisionLog::Json() const {
  boost::json::array out;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    out.push_back(boost::json::object{{"tick", it->tick},
                                      {"serverId", it->server_id},
                                      {"drift", it->drift},
                                      {"rule", it->rule},
                                      {"action", it->action},
                                      {"breaker", it->breaker.empty() ? boost::json::value(nullptr)
                                                                      : boost::json::value(it->breaker)},
                                      {"workflowId", it->workflow_id.empty() ? boost::json::value(nullptr)
                                                                             : boost::json::value(it->workflow_id)}});
  }
  return out;
}

}  // namespace zlh::controller
