// What a reconcile tick tells: the texts its notification steps posted before the outbox, word for
// word (a history recorded then replays them), and the #audit-log message's parts.
#include "controller/messages.h"

#include <gtest/gtest.h>

namespace zlh::controller {
namespace {

Act ActOf(std::string outcome, bool alert = true) {
  Act a;
  a.decision.server_id = "srv-1";
  a.decision.subject = "survival (VMID 101)";
  a.decision.drift = "dns_missing";
  a.decision.rule = "DNS record missing";
  a.decision.repair = "republish_dns";
  a.decision.level = 1;
  a.first_tick = 40;
  a.attempt = 2;
  a.outcome = std::move(outcome);
  a.alert = alert;
  return a;
}

struct Told {
  std::string channel, text;
  bool ping;
};

std::vector<Told> Of(const std::vector<flows::Message>& messages) {
  std::vector<Told> out;
  for (const auto& m : messages) {
    EXPECT_FALSE(m.digest) << m.text;
    out.push_back({m.channel, m.text, m.ping});
  }
  return out;
}

void ExpectTold(const std::vector<flows::Message>& got, const std::vector<Told>& expected) {
  std::vector<Told> told = Of(got);
  ASSERT_EQ(told.size(), expected.size());
  for (size_t i = 0; i < told.size(); ++i) {
    EXPECT_EQ(told[i].channel, expected[i].channel) << i;
    EXPECT_EQ(told[i].text, expected[i].text) << i;
    EXPECT_EQ(told[i].ping, expected[i].ping) << i;
  }
}

TEST(TickMessagesTest, TickMessagesAreWhatTheOldStepsPosted) {
  Act notice = ActOf("notice");
  notice.decision.rule = "backup older than 1 period";
  Act applied = ActOf("applied");
  applied.decision.customer_id = "c-7";
  applied.decision.value = "suspended";
  Act above = ActOf("notify");
  above.decision.level = 2;
  above.decision.rule = "agent unreachable";
  Act housekeeping = ActOf("notify");
  housekeeping.decision.level = 0;
  housekeeping.decision.subject = "";  // recorded before subjects were
  housekeeping.decision.rule = "stale lease";
  Act stop = ActOf("billing", false);
  stop.decision.server_id = "srv-2";
  stop.decision.value = "c-2";
  stop.decision.action = "billing_stop";
  Act start = stop;
  start.decision.server_id = "srv-3";
  start.decision.action = "billing_start";
  Act repair = ActOf("repair", false);
  Act quiet = ActOf("in_progress", false);
  quiet.news = false;

  TickNews news = TickMessages(42, {notice, applied, ActOf("exhausted"), ActOf("breaker"), above,
                                    housekeeping, stop, start, repair, quiet});
  ExpectTold(
      news.alerts,
      {{"system-health", "Backup missed on survival (VMID 101): backup older than 1 period.",
        false},
       {"alerts-billing",
        "Billing says customer c-7 is suspended, which no webhook told us (a webhook was "
        "missed): applied.",
        true},
       {"alerts-critical",
        "Repair republish_dns of survival (VMID 101) failed 3 times (dns_missing): it needs a "
        "person.",
        true},
       {"alerts-critical",
        "Circuit breaker tripped on survival (VMID 101): 3 repairs in the last hour; "
        "dns_missing is not repaired until the hour has passed.",
        true},
       {"alerts-critical",
        "Drift on survival (VMID 101): agent unreachable — a level-2 repair, above the "
        "allowed level; not repaired. Incident since tick 40.",
        true},
       {"alerts-critical", "Drift on srv-1: stale lease. Incident since tick 40.", true}});
  ASSERT_TRUE(news.billing.has_value());
  ExpectTold({*news.billing}, {{"alerts-billing",
                                "Billing enforcement:\n- srv-2 (customer c-2): stopped\n- srv-3 "
                                "(customer c-2): started again",
                                false}});
  ExpectTold(news.audit, {{"audit-log",
                           "Reconcile tick 42:\n"
                           "- survival (VMID 101): dns_missing → notice\n"
                           "- survival (VMID 101): dns_missing → applied\n"
                           "- survival (VMID 101): dns_missing → exhausted\n"
                           "- survival (VMID 101): dns_missing → breaker\n"
                           "- survival (VMID 101): dns_missing → notify\n"
                           "- srv-1: dns_missing → notify\n"
                           "- survival (VMID 101): dns_missing → billing\n"
                           "- survival (VMID 101): dns_missing → billing\n"
                           "- survival (VMID 101): dns_missing → repair (republish_dns, attempt 2)",
                           false}});
  std::vector<flows::Message> all = news.All();
  ASSERT_EQ(all.size(), 8u);  // alerts, billing, audit, in that order
  EXPECT_EQ(all[5].text, news.alerts[5].text);
  EXPECT_EQ(all[6].channel, "alerts-billing");
  EXPECT_EQ(all[7].channel, "audit-log");
}

TEST(TickMessagesTest, AQuietTickTellsNothing) {
  Act quiet = ActOf("in_progress", false);
  quiet.news = false;
  EXPECT_TRUE(TickMessages(9, {quiet}).All().empty());
  EXPECT_TRUE(TickMessages(9, {}).All().empty());
}

TEST(AuditPartsTest, ALongTickIsSplitAtLinesEachPartHeaded) {
  std::vector<std::string> lines;
  for (int i = 0; i < 100; ++i)
    lines.push_back("- s" + std::to_string(i) + " (VMID " + std::to_string(100 + i) +
                    "): dns_missing → repair (republish_dns, attempt 1)");
  auto parts = AuditParts(42, lines);
  ASSERT_GT(parts.size(), 1u);
  std::string joined;
  for (size_t i = 0; i < parts.size(); ++i) {
    EXPECT_LE(parts[i].size(), 1'900u);
    std::string head = i == 0 ? "Reconcile tick 42:" : "Reconcile tick 42 (continued):";
    ASSERT_EQ(parts[i].rfind(head, 0), 0u) << parts[i];
    joined += parts[i].substr(head.size());
  }
  std::string expected;
  for (const auto& l : lines) expected += "\n" + l;
  EXPECT_EQ(joined, expected) << "a line lost, split or reordered";
  EXPECT_EQ(AuditParts(7, {"- x"}), std::vector<std::string>{"Reconcile tick 7:\n- x"});
}

}  // namespace
}  // namespace zlh::controller
