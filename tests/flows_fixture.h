// The fixture of the flows tests: the ZLH workflows on the engine over a real zlh-sim process
// (loopback HTTP), the notification outbox delivered to it by zlhd's dispatcher on the same event
// loop, with helpers to start provisionings and operations, read the simulator's state (Discord's
// messages among it) and check every invariant zlh-journal verify checks.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "activities/http_client.h"
#include "fleet/tables.h"
#include "fleet/verify.h"
#include "flows/flows.h"
#include "flows/fold.h"
#include "flows/inputs.h"
#include "flows/outside.h"
#include "tests/outbox_delivery.h"
#include "tests/sim_process.h"
#include "workflows/engine_fixture.h"
#include "workflows/verify.h"

namespace zlh::flows {

class FlowsTest : public workflows::EngineFixture {
 protected:
  // The config's fields besides the test timings (a JSON fragment: `"vmids": {...}, ...`).
  virtual std::string Fields() const { return R"("vmids": {"first": 100, "last": 120})"; }

  void SetUp() override {
    ASSERT_FALSE(sim_.url().empty());
    auto s = config::Parse(R"({"timing": {"readinessProbeInterval": "50ms",
                                           "leaseHeartbeatInterval": "50ms",
                                           "leasePollInterval": "5s",
                                           "activityTimeout": "300ms"},
                                "proxmox": {"taskPollInterval": "10ms"}, )" +
                           Fields() + "}");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    settings_ = *s;
    config::PointAtFleet(settings_, sim_.url());
    outside_ = std::make_unique<Outside>(settings_);
    deps_ = outside_->MakeDeps();
    ASSERT_TRUE(Register(registry_, deps_).ok());
    EngineFixture::SetUp();
    Wire();
  }
  // Points the workflows at the journal and the engine just opened, and delivers their outbox.
  void Wire() {
    deps_.journal = journal_.get();
    deps_.engine = engine_.get();
    delivery_.Start(io_->get_executor(), *journal_, *outside_, settings_, deps_);
  }
  void BeforeClose() override { Await(delivery_.Stop()); }

  std::string Provision(const std::string& name, const std::string& ctype = "game",
                        const std::string& customer = "c-1", const std::string& plan = "small") {
    ProvisionInput in{"srv-" + name, customer,       ctype, name, ctype == "dev" ? "" : "vanilla",
                      plan,          "nonce-" + name};
    auto r = Await(engine_->Start(ProvisionStart(in, settings_)));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->id : "";
  }
  std::string Operate(const std::string& server, const std::string& op, const std::string& nonce) {
    OperationInput in{server, "c-1", op, nonce, "", "portal"};
    auto r = Await(engine_->Start(OperationStart(in)));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->id : "";
  }
  proto::Server Server(const std::string& id) {
    auto s = fleet::ReadServer(*journal_, id);
    EXPECT_TRUE(s.ok() && s->has_value()) << id;
    return s.ok() && s->has_value() ? **s : proto::Server();
  }

  long SimPost(const std::string& path, const std::string& body) {
    activities::HttpRequest r;
    r.method = "POST";
    r.url = sim_.url() + path;
    r.body = body;
    auto res = Await(client_.Send(r));
    return res.ok() ? res->status : 0;
  }
  // The next `probes` agent health probes get 503 (the agent not up yet).
  void AgentHealthFails(int probes) {
    ASSERT_EQ(SimPost("/sim/faults", R"({"call": "agent.health", "mode": "error", "status": 503,
                                         "count": )" + std::to_string(probes) + "}"),
              200);
  }
  boost::json::object SimState() {
    activities::HttpRequest r;
    r.url = sim_.url() + "/sim/state";
    auto res = Await(client_.Send(r));
    EXPECT_TRUE(res.ok());
    boost::json::value v = boost::json::parse(res->body);
    return v.as_object();
  }
  // zlh-sim's proxy registrations (name → "address:port") and A records (name → address).
  std::map<std::string, std::string> ProxyRegistrations() {
    std::map<std::string, std::string> out;
    boost::json::object state = SimState();  // not a temporary: the loop outlives the statement
    for (const auto& p : state["proxyRegistrations"].as_array()) {
      out[std::string(p.at("name").as_string())] = std::string(p.at("address").as_string());
    }
    return out;
  }
  // The Discord messages zlh-sim shows on `channel`, oldest first.
  std::vector<boost::json::object> Messages(const std::string& channel) {
    std::vector<boost::json::object> out;
    boost::json::object state = SimState();
    for (const auto& m : state["discordMessages"].as_array()) {
      if (m.at("channel").as_string() == channel) out.push_back(m.as_object());
    }
    return out;
  }
  // Runs the event loop until zlh-sim shows a message on `channel` that satisfies `match` (the
  // outbox delivers after the workflow that recorded it went on).
  bool RunUntilShown(const std::string& channel,
                     const std::function<bool(const boost::json::object&)>& match) {
    return RunUntil([&] {
      for (const auto& m : Messages(channel)) {
        if (match(m)) return true;
      }
      return false;
    });
  }
  std::map<std::string, std::string> ARecords() {
    std::map<std::string, std::string> out;
    boost::json::object state = SimState();
    for (const auto& r : state["dnsRecords"].as_array()) {
      if (r.at("type") == "A") {
        out[std::string(r.at("name").as_string())] = std::string(r.at("content").as_string());
      }
    }
    return out;
  }
  void ExpectVerified() {
    auto v = workflows::Verify(*journal_);
    ASSERT_TRUE(v.ok());
    auto domain = fleet::VerifyDomain(*journal_);
    ASSERT_TRUE(domain.ok());
    v->insert(v->end(), domain->begin(), domain->end());
    auto fold = VerifyFold(*journal_);
    ASSERT_TRUE(fold.ok());
    v->insert(v->end(), fold->begin(), fold->end());
    for (const auto& violation : *v) ADD_FAILURE() << violation.subject << ": " << violation.what;
  }

  TempDir tmp_;
  Sim sim_{tmp_.Sub("sim.json")};
  config::Settings settings_;
  std::unique_ptr<Outside> outside_;
  Deps deps_;
  OutboxDelivery delivery_;
  activities::HttpClient client_{1};
};

}  // namespace zlh::flows
