// The texts of a reconcile tick's notifications (messages.h).
#include "controller/messages.h"

namespace zlh::controller {
namespace {

// Decisions recorded before subjects were: the id is all there is.
const std::string& SubjectOf(const Decision& d) {
  return d.subject.empty() ? d.server_id : d.subject;
}

// The #alerts-billing notice of billing enforcement's stops and starts; nullopt when none.
std::optional<flows::Message> BillingNotice(const std::vector<Act>& acts) {
  std::string billing;
  for (const auto& a : acts) {
    if (a.outcome != "billing") continue;
    billing += "\n- " + a.decision.server_id + " (customer " + a.decision.value +
               "): " + (a.decision.action == "billing_stop" ? "stopped" : "started again");
  }
  if (billing.empty()) return std::nullopt;
  return flows::Message{"alerts-billing", "Billing enforcement:" + billing, false};
}

// The #audit-log lines: what the tick did or what changed (a proposal awaiting approval is not
// repeated every tick).
std::vector<std::string> AuditLines(const std::vector<Act>& acts) {
  std::vector<std::string> lines;
  for (const auto& a : acts) {
    if (!a.news) continue;
    lines.push_back("- " + SubjectOf(a.decision) + ": " + a.decision.drift + " → " + a.outcome +
                    (a.outcome == "repair"
                         ? " (" + a.decision.repair + ", attempt " + std::to_string(a.attempt) + ")"
                         : ""));
  }
  return lines;
}

}  // namespace

std::vector<flows::Message> TickNews::All() const {
  std::vector<flows::Message> all = alerts;
  if (billing) all.push_back(*billing);
  all.insert(all.end(), audit.begin(), audit.end());
  return all;
}

flows::Message AlertOf(const Act& a) {
  const Decision& dec = a.decision;
  const std::string& subject = SubjectOf(dec);
  if (a.outcome == "notice") {
    return {"system-health", "Backup missed on " + subject + ": " + dec.rule + ".", false};
  }
  if (a.outcome == "applied") {
    return {"alerts-billing",
            "Billing says customer " + dec.customer_id + " is " + dec.value +
                ", which no webhook told us (a webhook was missed): applied.",
            true};
  }
  if (a.outcome == "exhausted" || a.outcome == "exhausted_propose") {
    return {"alerts-critical",
            "Repair " + dec.repair + " of " + subject + " failed " +
                std::to_string(kMaxRepairAttempts) + " times (" + dec.drift +
                "): it needs a person.",
            true};
  }
  if (a.outcome == "breaker") {
    return {"alerts-critical",
            "Circuit breaker tripped on " + subject + ": " +
                std::to_string(kBreakerRepairsPerHour) + " repairs in the last hour; " + dec.drift +
                " is not repaired until the hour has passed.",
            true};
  }
  std::string why = dec.level > 0 ? " — a level-" + std::to_string(dec.level) +
                                        " repair, above the allowed level; not repaired"
                                  : "";
  return {"alerts-critical",
          "Drift on " + subject + ": " + dec.rule + why + ". Incident since tick " +
              std::to_string(a.first_tick) + ".",
          true};
}

TickNews TickMessages(int64_t tick, const std::vector<Act>& acts) {
  TickNews news;
  for (const auto& a : acts) {
    if (a.alert) news.alerts.push_back(AlertOf(a));
  }
  news.billing = BillingNotice(acts);
  std::vector<std::string> lines = AuditLines(acts);
  if (!lines.empty()) {
    for (std::string& part : AuditParts(tick, lines)) {
      news.audit.push_back({"audit-log", std::move(part), false});
    }
  }
  return news;
}

std::vector<std::string> AuditParts(int64_t tick, const std::vector<std::string>& lines) {
  constexpr size_t kLimit = 1'900;
  std::string head = "Reconcile tick " + std::to_string(tick);
  std::vector<std::string> parts{head + ":"};
  for (const std::string& line : lines) {
    std::string cut = line;
    if (cut.size() > kLimit / 2) {  // one line never fills a message: cut at a character boundary
      size_t n = kLimit / 2;
      while (n > 0 && (static_cast<unsigned char>(cut[n]) & 0xC0) == 0x80) --n;
      cut = cut.substr(0, n) + "…";
    }
    if (parts.back().size() + 1 + cut.size() > kLimit) parts.push_back(head + " (continued):");
    parts.back() += "\n" + cut;
  }
  return parts;
}

}  // namespace zlh::controller
