// The controller's lease housekeeping (SPEC §6.1) on the engine, against a real zlh-sim: a stale
// lease whose holder is unknown is cleared with its epoch bumped (recorded on the server's lease
// stream, so the tables still equal the fold of the events) and alerted; a stale lease whose
// holder lives is alerted once per incident and left alone. The alerts go through the outbox,
// delivered to zlh-sim's Discord by zlhd's dispatcher on the engine's event loop.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <thread>

#include "activities/http_client.h"
#include "controller/controller.h"
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

namespace zlh::controller {
namespace {

namespace json = boost::json;

class HousekeepingTest : public workflows::EngineFixture {
 protected:
  void SetUp() override {
    ASSERT_FALSE(sim_.url().empty());
    auto s = config::Parse(R"({"timing": {"readinessProbeInterval": "50ms",
                                           "leaseHeartbeatInterval": "1h"},
                                "proxmox": {"taskPollInterval": "10ms"},
                                "controller": {"leaseStaleAfter": "200ms"}})");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    settings_ = *s;
    config::PointAtFleet(settings_, sim_.url());
    outside_ = std::make_unique<flows::Outside>(settings_);
    deps_ = outside_->MakeDeps();
    ASSERT_TRUE(flows::Register(registry_, deps_).ok());
    ASSERT_TRUE(controller::Register(registry_, deps_).ok());
    EngineFixture::SetUp();
    deps_.journal = journal_.get();
    deps_.engine = engine_.get();
    delivery_.Start(io_->get_executor(), *journal_, *outside_, settings_, deps_);
  }
  void BeforeClose() override { Await(delivery_.Stop()); }
  proto::WorkflowSummary Tick(int64_t tick) {
    auto r = Await(engine_->Start(ReconcileStart(tick)));
    EXPECT_TRUE(r.ok());
    return AwaitEnd(r->id);
  }
  std::vector<json::object> Messages(const std::string& channel) {
    activities::HttpRequest req;
    req.url = sim_.url() + "/sim/state";
    auto res = Await(client_.Send(req));
    json::value state = json::parse(res->body);
    std::vector<json::object> out;
    for (const auto& m : state.at("discordMessages").as_array()) {
      if (m.at("channel").as_string() == channel) out.push_back(m.as_object());
    }
    return out;
  }

  TempDir tmp_;
  Sim sim_{tmp_.Sub("sim.json")};
  config::Settings settings_;
  std::unique_ptr<flows::Outside> outside_;
  flows::Deps deps_;
  OutboxDelivery delivery_;
  activities::HttpClient client_{1};
};

TEST_F(HousekeepingTest, AStaleLeaseOfAnUnknownHolderIsClearedAndAlerted) {
  // A lease no workflow of this journal holds (as after a bad restore), silent for long.
  ASSERT_TRUE(journal_->AppendSync({}, [](journal::Txn& t) {
    proto::Lease lease;
    lease.set_server_id("srv-x");
    lease.set_holder("01DEADDEADDEADDEADDEADDEAD");
    lease.set_epoch(3);
    lease.set_acquired_ms(1);
    fleet::PutLease(t, lease);
    return Status::Ok();
  }).ok());
  EXPECT_EQ(Tick(1).status(), proto::COMPLETED);
  ASSERT_TRUE(RunUntil([&] { return fleet::ReadLease(*journal_, "srv-x")->holder().empty(); }));
  EXPECT_EQ(fleet::ReadLease(*journal_, "srv-x")->epoch(), 4u);
  ASSERT_TRUE(RunUntil([&] { return Messages("alerts-critical").size() == 1; }));
  EXPECT_TRUE(Messages("alerts-critical")[0].at("ping").as_bool());
  auto events = journal_->ReadEvents("sys.lease.srv-x");
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_TRUE((*events)[0].has_system_input());
  auto fold = flows::VerifyFold(*journal_);
  ASSERT_TRUE(fold.ok());
  EXPECT_TRUE(fold->empty()) << fold->front().subject << ": " << fold->front().what;
}

TEST_F(HousekeepingTest, AStaleLeaseOfALiveHolderIsAlertedOnceAndLeftAlone) {
  flows::ProvisionInput in{"srv-1", "c-1", "game", "alpha", "vanilla", "small", "n1"};
  auto p = Await(engine_->Start(flows::ProvisionStart(in, settings_)));
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(AwaitEnd(p->id).status(), proto::COMPLETED);
  // A backup that takes its time, holding the lease; its heartbeat (every hour) goes stale.
  activities::HttpRequest fault;
  fault.method = "POST";
  fault.url = sim_.url() + "/sim/faults";
  fault.body = R"({"call": "backup.run", "mode": "latency", "count": 1, "latencyMs": 1500})";
  ASSERT_EQ(Await(client_.Send(fault))->status, 200);
  auto op = Await(engine_->Start(flows::OperationStart({"srv-1", "c-1", "backup", "b1", "", "portal"})));
  ASSERT_TRUE(op.ok());
  ASSERT_TRUE(RunUntil([&] { return fleet::ReadLease(*journal_, "srv-1")->holder() == op->id; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Tick(1).status(), proto::COMPLETED);
  EXPECT_EQ(Tick(2).status(), proto::COMPLETED);
  ASSERT_TRUE(RunUntil([&] { return !Messages("alerts-critical").empty(); }));
  EXPECT_EQ(Messages("alerts-critical").size(), 1u) << "alerted more than once per incident";
  EXPECT_EQ(fleet::ReadLease(*journal_, "srv-1")->holder(), op->id) << "a live holder's lease was cleared";
  EXPECT_EQ(AwaitEnd(op->id).status(), proto::COMPLETED);
}

}  // namespace
}  // namespace zlh::controller
