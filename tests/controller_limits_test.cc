// The repair concurrency limits end to end (SPEC §6.3): with one repair per host at a time and
// DNS answering slowly, drift on four servers over two hosts is repaired host by host — never two
// repairs in flight on one host, also across a kill -9 — and the held-back drift is explained as
// held by the host limit.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "base/clock.h"
#include "tests/eventually.h"
#include "tests/zlhd_fleet.h"

namespace zlh {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

TEST(ControllerLimitsTest, OneRepairPerHostAtATimeAlsoAcrossAKill) {
  TempDir tmp;
  ZlhdOnSim z(tmp, ControllerConfig(R"("repairConcurrencyPerHost": 1)"));
  ASSERT_TRUE(z.Start());
  std::map<std::string, std::string> node_of;  // server id -> node
  std::vector<int64_t> vmids;
  std::vector<std::string> names;
  for (int i = 0; i < 4; ++i) {
    std::string customer = "c-" + std::to_string(i);
    json::object a = z.Body(z.Create(customer, "n", "limit" + std::to_string(i)));
    ASSERT_EQ(z.AwaitWorkflow(std::string(a["workflowId"].as_string())), "completed");
    std::string id(a["serverId"].as_string());
    json::object s = z.Body(z.Api("GET", "/api/servers/" + id + "?customerId=" + customer));
    node_of[id] = std::string(s["node"].as_string());
    vmids.push_back(s["vmid"].as_int64());
    names.push_back("limit" + std::to_string(i));
  }
  std::map<std::string, int> per_node;
  for (const auto& [id, node] : node_of) ++per_node[node];
  ASSERT_EQ(per_node.size(), 2u) << "placement spreads over both hosts";

  ASSERT_EQ(z.SimPost("/sim/faults", R"({"call": "dns.publish", "mode": "latency", "count": 1000, "latencyMs": 400})"), 200);
  for (int64_t vmid : vmids) {
    ASSERT_EQ(z.SimPost("/sim/faults", R"({"drift": "dns_missing", "vmid": )" + std::to_string(vmid) + "}"), 200);
  }
  // Held back at least once by the host limit, and explained so.
  ASSERT_TRUE(Eventually([&] {
    json::object c = z.Body(z.Api("GET", "/api/controller", "", true));
    for (const auto& d : c["lastDecisions"].as_array()) {
      if (d.at("breaker").is_string() && d.at("breaker").as_string() == "host_concurrency") return true;
    }
    return false;
  }));
  z.Kill();
  ASSERT_TRUE(z.Start());
  auto dns_back = [&] {
    json::object state = z.SimState();
    size_t found = 0;
    for (const auto& r : state["dnsRecords"].as_array()) {
      for (const auto& n : names) found += r.at("name").as_string() == n + ".play.example";
    }
    return found == names.size();
  };
  ASSERT_TRUE(Eventually(dns_back, 60s));

  // From the journal's record: per host, a repair starts only after the previous one ended.
  ASSERT_TRUE(Eventually([&] {
    json::object page = z.Body(z.Api("GET", "/api/workflows?type=repair&limit=1000", "", true));
    for (const auto& w : page["workflows"].as_array()) {
      if (w.at("status").as_string() != "completed") return false;
    }
    return true;
  }));
  json::object page = z.Body(z.Api("GET", "/api/workflows?type=repair&limit=1000", "", true));
  std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> spans;  // node -> [start, end]
  for (const auto& w : page["workflows"].as_array()) {
    json::object v = z.Body(z.Api("GET", "/api/workflows/" + std::string(w.at("workflowId").as_string()), "", true));
    std::string server(v["input"].as_object()["serverId"].as_string());
    spans[node_of[server]].emplace_back(ParseRfc3339(v["createdAt"].as_string()).value_or(0),
                                        ParseRfc3339(v["updatedAt"].as_string()).value_or(0));
  }
  size_t repairs = 0;
  for (auto& [node, list] : spans) {
    std::sort(list.begin(), list.end());
    repairs += list.size();
    for (size_t i = 1; i < list.size(); ++i) {
      EXPECT_GE(list[i].first, list[i - 1].second)
          << "two repairs in flight at once on " << node << ": " << json::serialize(page);
    }
  }
  EXPECT_GE(repairs, 4u);
  EXPECT_EQ(z.Stop(), 0);
}

}  // namespace
}  // namespace zlh
