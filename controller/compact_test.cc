// Compact (diff.h), as a property: over random observations, the decisions of the compacted
// observation — what reconcile records — are exactly the decisions of the whole, and only servers
// nothing is to be said about are left out.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include "controller/diff.h"

namespace zlh::controller {
namespace {

constexpr int64_t kHour = 3'600'000;

ServerObservation GenServer(int i) {
  ServerObservation s;
  s.server_id = "srv-" + std::to_string(i);
  s.customer_id = "c-" + std::to_string(*rc::gen::inRange(0, 4));
  s.name = "s" + std::to_string(i);
  s.ctype = *rc::gen::element<std::string>("game", "dev");
  s.vmid = 100 + i;
  s.node = *rc::gen::element<std::string>("pve1", "pve2");
  s.created_ms = *rc::gen::inRange<int64_t>(0, 100) * kHour;
  s.status = *rc::gen::element<std::string>("running", "stopped");
  s.stopped_by_billing = *rc::gen::arbitrary<bool>();
  s.lease_held = *rc::gen::weightedElement<bool>({{1, true}, {5, false}});
  s.maintenance = *rc::gen::weightedElement<bool>({{1, true}, {5, false}});
  s.node_drained = *rc::gen::weightedElement<bool>({{1, true}, {5, false}});
  s.repairs_in_flight = *rc::gen::weightedElement<int64_t>({{1, 1}, {5, 0}});
  s.open_proposal = *rc::gen::weightedElement<bool>({{1, true}, {5, false}});
  // Mostly healthy, sometimes not, sometimes unknown.
  auto healthy = [] { return *rc::gen::weightedElement<bool>({{4, true}, {1, false}}); };
  s.container_known = healthy();
  s.container_exists = healthy();
  s.container_status = healthy() ? s.status : (s.status == "running" ? "stopped" : "running");
  s.agent_known = healthy();
  s.agent = healthy() ? "ready" : "unreachable";
  s.dns_known = healthy();
  s.dns_a_ok = healthy();
  s.dns_srv_ok = healthy();
  s.proxy_known = healthy();
  s.proxy_ok = healthy();
  s.backups_known = healthy();
  s.last_backup_ms = healthy() ? 99 * kHour : *rc::gen::inRange<int64_t>(0, 99) * kHour;
  return s;
}

Observation GenObservation() {
  Observation o;
  o.tick = 7;
  o.observed_ms = 100 * kHour;
  int n = *rc::gen::inRange(0, 30);
  for (int i = 0; i < n; ++i) o.servers.push_back(GenServer(i));
  for (int c = 0; c < 5; ++c) {
    CustomerObservation customer{"c-" + std::to_string(c),
                                 *rc::gen::element<std::string>("active", "suspended"),
                                 *rc::gen::element<std::string>("active", "suspended", "")};
    o.customers.push_back(customer);
  }
  for (const auto& s : o.servers) {
    if (s.lease_held && *rc::gen::arbitrary<bool>()) {
      o.stale_leases.push_back({s.server_id, "op-1", 3, *rc::gen::element<std::string>("live", "ended", "unknown"),
                                2 * kHour});
    }
  }
  return o;
}

TEST(CompactTest, TheCompactedObservationDecidesExactlyAsTheWhole) {
  EXPECT_TRUE(rc::check("Diff(Compact(o)) == Diff(o)", [] {
    Observation o = GenObservation();
    Policy policy;
    policy.max_repair_level = *rc::gen::inRange(0, 3);
    std::string whole = ToJson(Diff(o, policy));
    Observation compact = Compact(o, policy);
    RC_ASSERT(ToJson(Diff(compact, policy)) == whole);
    RC_ASSERT(compact.servers.size() + static_cast<size_t>(compact.healthy_servers) == o.servers.size());
    // What was left out had nothing under way.
    std::set<std::string> kept;
    for (const auto& s : compact.servers) kept.insert(s.server_id);
    for (const auto& s : o.servers) {
      if (kept.count(s.server_id)) continue;
      RC_ASSERT(!s.lease_held && !s.maintenance && s.repairs_in_flight == 0 && !s.open_proposal);
    }
    // And the record round-trips.
    auto parsed = ParseObservation(ToJson(compact));
    RC_ASSERT(parsed.ok());
    RC_ASSERT(ToJson(*parsed) == ToJson(compact));
  }));
}

TEST(CompactTest, AHealthyFleetIsRecordedAsACount) {
  Observation o;
  o.observed_ms = 100 * kHour;
  for (int i = 0; i < 1000; ++i) {
    ServerObservation s;
    s.server_id = "srv-" + std::to_string(i);
    s.customer_id = "c-" + std::to_string(i);
    s.name = "s" + std::to_string(i);
    s.ctype = "game";
    s.status = "running";
    s.container_known = s.container_exists = true;
    s.container_status = "running";
    s.agent_known = true;
    s.agent = "ready";
    s.dns_known = s.dns_a_ok = s.dns_srv_ok = s.proxy_known = s.proxy_ok = true;
    s.backups_known = true;
    s.last_backup_ms = 99 * kHour;
    o.servers.push_back(s);
    o.customers.push_back({s.customer_id, "active", "active"});
  }
  Observation compact = Compact(o, {});
  EXPECT_TRUE(compact.servers.empty());
  EXPECT_TRUE(compact.customers.empty());
  EXPECT_EQ(compact.healthy_servers, 1000);
  EXPECT_LT(ToJson(compact).size(), 300u) << ToJson(compact);
}

}  // namespace
}  // namespace zlh::controller
