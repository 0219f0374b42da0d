// The ZLH workflows (provision, deprovision, operation) on the engine, acting on a real zlh-sim
// over loopback HTTP: unique VMIDs that skip pre-existing containers, one container / DNS record /
// proxy registration each, compensation that leaves nothing behind, leases taken in arrival order
// and never overlapping.
#include <set>

#include "journal/format.h"
#include "tests/flows_fixture.h"

namespace zlh::flows {
namespace {

namespace json = boost::json;

TEST_F(FlowsTest, ConcurrentProvisioningsGetUniqueVmidsAndOneOfEverything) {
  ASSERT_EQ(SimPost("/sim/containers", R"({"vmid": 101, "node": "pve1", "hostname": "foreign"})"), 201);
  ASSERT_EQ(SimPost("/sim/containers", R"({"vmid": 103, "node": "pve2", "hostname": "other"})"), 201);
  std::vector<std::string> names = {"alpha", "bravo", "charlie", "delta", "echo"};
  std::vector<std::string> ids;
  for (const auto& n : names) ids.push_back(Provision(n));
  std::string dev = Provision("devbox", "dev", "c-2");  // c-1 is at its quota of 5
  std::set<int64_t> vmids;
  for (size_t i = 0; i < names.size(); ++i) {
    proto::WorkflowSummary s = AwaitEnd(ids[i]);
    EXPECT_EQ(s.status(), proto::COMPLETED) << s.error().message();
    proto::Server server = Server("srv-" + names[i]);
    EXPECT_EQ(server.status(), proto::SERVER_RUNNING);
    EXPECT_NE(server.vmid(), 101);
    EXPECT_NE(server.vmid(), 103);
    EXPECT_FALSE(server.node().empty());
    EXPECT_TRUE(vmids.insert(server.vmid()).second) << "VMID " << server.vmid() << " twice";
  }
  EXPECT_EQ(AwaitEnd(dev).status(), proto::COMPLETED);
  EXPECT_TRUE(vmids.insert(Server("srv-devbox").vmid()).second);

  json::object state = SimState();
  size_t ours = 0;
  for (const auto& c : state["containers"].as_array()) {
    const auto& o = c.as_object();
    if (o.at("preexisting").as_bool()) continue;
    ++ours;
    EXPECT_EQ(o.at("createCalls").as_int64(), 1) << json::serialize(o);
    EXPECT_EQ(o.at("status").as_string(), "running");
  }
  EXPECT_EQ(ours, names.size() + 1);
  std::map<std::string, int> records;
  for (const auto& r : state["dnsRecords"].as_array()) {
    ++records[std::string(r.at("type").as_string()) + " " + std::string(r.at("name").as_string())];
  }
  for (const auto& n : names) {
    EXPECT_EQ(records["A " + n + ".play.example"], 1) << n;
    EXPECT_EQ(records["SRV _minecraft._tcp." + n + ".play.example"], 1) << n;
  }
  EXPECT_EQ(records["A devbox.play.example"], 1);
  EXPECT_EQ(records.count("SRV _minecraft._tcp.devbox.play.example"), 0u);  // dev: A only
  EXPECT_EQ(state["proxyRegistrations"].as_array().size(), names.size());  // not the dev box
  ExpectVerified();
}

TEST_F(FlowsTest, TransientFaultsAndTimeoutsAreRetried) {
  ASSERT_EQ(SimPost("/sim/faults", R"({"call": "proxmox.create", "mode": "error", "count": 2, "status": 500})"), 200);
  ASSERT_EQ(SimPost("/sim/faults", R"({"call": "dns.publish", "mode": "error", "count": 2, "status": 503})"), 200);
  // Held past the 300 ms request timeout: the attempt times out and the next one goes through.
  ASSERT_EQ(SimPost("/sim/faults", R"({"call": "proxy.register", "mode": "timeout", "count": 1, "latencyMs": 1500})"), 200);
  std::string id = Provision("retry");
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::COMPLETED) << s.error().message();
  json::object state = SimState();
  ASSERT_EQ(state["containers"].as_array().size(), 1u);
  EXPECT_EQ(state["containers"].as_array()[0].at("createCalls").as_int64(), 1);
  EXPECT_EQ(state["proxyRegistrations"].as_array().size(), 1u);
  // The retries are in the history: attempts of create_container, publish_dns, register_proxy.
  std::map<std::string, uint32_t> attempts;
  for (const auto& e : Events(id)) {
    if (e.has_step_failed()) attempts[e.step_failed().name()] = e.step_failed().attempt();
  }
  EXPECT_EQ(attempts["create_container"], 2u);
  EXPECT_EQ(attempts["publish_dns"], 2u);
  EXPECT_EQ(attempts["register_proxy"], 1u);
}

TEST_F(FlowsTest, AFailureRetriesCannotFixCompensatesAndLeavesNothing) {
  // The proxy refuses for good (a 400 is not retried): the container, started and installed by
  // then, must be destroyed and the VMID released.
  ASSERT_EQ(SimPost("/sim/faults", R"({"call": "proxy.register", "mode": "error", "count": 1, "status": 400})"), 200);
  std::string id = Provision("doomed");
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::FAILED);
  EXPECT_TRUE(s.compensated());
  proto::Server server = Server("srv-doomed");
  EXPECT_EQ(server.status(), proto::SERVER_FAILED);
  EXPECT_EQ(server.vmid(), 0);
  auto vmids = fleet::ListVmids(*journal_);
  ASSERT_TRUE(vmids.ok());
  EXPECT_TRUE(vmids->empty()) << "a VMID was left allocated";
  json::object state = SimState();
  EXPECT_TRUE(state["containers"].as_array().empty());
  EXPECT_TRUE(state["dnsRecords"].as_array().empty());
  EXPECT_TRUE(state["proxyRegistrations"].as_array().empty());
  // The alert is recorded with the failure's compensation and delivered after it.
  EXPECT_TRUE(RunUntilShown("alerts-provisioning", [&](const json::object& m) {
    return m.at("ping").as_bool() &&
           std::string(m.at("content").as_string()).find(id) != std::string::npos;
  }));
  // release_vmid was recorded in the same write as the failure.
  auto events = Events(id);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2].step_completed().name(), "release_vmid");
  EXPECT_TRUE(events.back().has_workflow_failed());
  // The name is free again.
  EXPECT_EQ(AwaitEnd(Provision("doomed-2")).status(), proto::COMPLETED);
  ExpectVerified();
}

TEST_F(FlowsTest, OperationsTakeTheLeaseInArrivalOrderWithoutOverlap) {
  ASSERT_EQ(AwaitEnd(Provision("ops")).status(), proto::COMPLETED);
  std::vector<std::string> ops;
  for (const char* op : {"stop", "start", "restart", "backup", "stop"}) {
    ops.push_back(Operate("srv-ops", op, std::string("n-") + std::to_string(ops.size())));
  }
  bool saw_lease_wait = false;
  ASSERT_TRUE(RunUntil([&] {
    auto s = engine_->Summary(ops.back());
    saw_lease_wait |= s.ok() && s->waiting_for().kind() == "lease";
    return saw_lease_wait || (s.ok() && s->status() == proto::COMPLETED);
  }));
  EXPECT_TRUE(saw_lease_wait);
  // Lease intervals from the journal: acquisition (acquire_lease completed) to the end event.
  std::vector<std::pair<int64_t, int64_t>> held;
  for (const auto& id : ops) {
    EXPECT_EQ(AwaitEnd(id).status(), proto::COMPLETED) << id;
    int64_t from = 0, to = 0;
    uint64_t epoch = 0;
    for (const auto& e : Events(id)) {
      if (e.has_step_completed() && e.step_completed().name() == "acquire_lease") {
        from = e.time_ms();
        epoch = std::stoull(e.step_completed().result().substr(0, e.step_completed().result().find(' ')));
      }
      if (e.has_workflow_completed()) to = e.time_ms();
    }
    ASSERT_NE(from, 0);
    held.emplace_back(from, to);
    EXPECT_EQ(epoch, held.size()) << "epochs grow by one per acquisition";
  }
  for (size_t i = 1; i < held.size(); ++i) {
    EXPECT_LE(held[i - 1].second, held[i].first) << "operations " << i - 1 << " and " << i << " overlap";
  }
  EXPECT_EQ(Server("srv-ops").status(), proto::SERVER_STOPPED);
  EXPECT_TRUE(fleet::ReadLease(*journal_, "srv-ops")->holder().empty());
  json::object state = SimState();
  EXPECT_EQ(state["backups"].as_array().size(), 1u);
  EXPECT_EQ(state["containers"].as_array()[0].at("status").as_string(), "stopped");
  ExpectVerified();
}

TEST_F(FlowsTest, AHolderWhoseEpochWasBumpedFailsWithLeaseLost) {
  ASSERT_EQ(AwaitEnd(Provision("lost")).status(), proto::COMPLETED);
  // The agent answers slowly, so the restart is mid-way when the lease is taken away.
  ASSERT_EQ(SimPost("/sim/faults", R"({"call": "agent.workload", "mode": "latency", "count": 1, "latencyMs": 300})"), 200);
  std::string op = Operate("srv-lost", "restart", "n1");
  ASSERT_TRUE(RunUntil([&] { return fleet::ReadLease(*journal_, "srv-lost")->holder() == op; }));
  // What clear_stale_lease does: clear the holder and bump the epoch.
  journal::Batch none;
  ASSERT_TRUE(journal_->AppendSync(std::move(none), [](journal::Txn& t) {
    auto lease = fleet::GetLease(t, "srv-lost");
    if (!lease.ok()) return lease.status();
    lease->clear_holder();
    lease->set_epoch(lease->epoch() + 1);
    fleet::PutLease(t, *lease);
    return Status::Ok();
  }).ok());
  proto::WorkflowSummary s = AwaitEnd(op);
  EXPECT_EQ(s.status(), proto::FAILED);
  EXPECT_EQ(s.error().code(), "lease_lost");
  // The workload was stopped before the lease was lost; the container was not touched after.
  json::object state = SimState();
  EXPECT_EQ(state["containers"].as_array()[0].at("status").as_string(), "running")
      << "it acted after losing its lease";
  for (const auto& m : state["mutations"].as_array()) {
    EXPECT_NE(m.at("call").as_string(), "proxmox.stop") << "it acted after losing its lease";
  }
}

TEST_F(FlowsTest, DeprovisionFreesTheVmidAndLeavesNothing) {
  ASSERT_EQ(AwaitEnd(Provision("gone")).status(), proto::COMPLETED);
  int64_t vmid = Server("srv-gone").vmid();
  auto r = Await(engine_->Start(DeprovisionStart("srv-gone", "c-1")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(AwaitEnd(r->id).status(), proto::COMPLETED);
  EXPECT_EQ(Server("srv-gone").status(), proto::SERVER_DELETED);
  json::object state = SimState();
  EXPECT_TRUE(state["containers"].as_array().empty());
  EXPECT_TRUE(state["dnsRecords"].as_array().empty());
  EXPECT_TRUE(state["proxyRegistrations"].as_array().empty());
  // The VMID and the name are free for the next provisioning.
  ProvisionInput again{"srv-gone-2", "c-1", "game", "gone", "vanilla", "small", "nonce-again"};
  auto second = Await(engine_->Start(ProvisionStart(again, settings_)));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(AwaitEnd(second->id).status(), proto::COMPLETED);
  EXPECT_EQ(Server("srv-gone-2").vmid(), vmid);
  ExpectVerified();
}

// verify's fold: the tables equal what the events say; a table changed behind the events' back
// is named.
TEST_F(FlowsTest, VerifyNamesATableThatDisagreesWithTheEvents) {
  ASSERT_EQ(AwaitEnd(Provision("folded")).status(), proto::COMPLETED);
  ASSERT_EQ(AwaitEnd(Operate("srv-folded", "stop", "s1")).status(), proto::COMPLETED);
  ExpectVerified();
  auto damage = [&](std::function<Status(journal::Txn&)> fn) {
    ASSERT_TRUE(journal_->AppendSync({}, std::move(fn)).ok());
  };
  damage([](journal::Txn& t) {
    auto s = fleet::GetServer(t, "srv-folded");
    if (!s.ok()) return s.status();
    (*s)->set_status(proto::SERVER_RUNNING);  // the stop said stopped
    (*s)->set_vmid(777);
    return fleet::PutServer(t, **s);
  });
  damage([](journal::Txn& t) {
    auto lease = fleet::GetLease(t, "srv-folded");
    if (!lease.ok()) return lease.status();
    lease->set_epoch(9);
    fleet::PutLease(t, *lease);
    return Status::Ok();
  });
  auto v = VerifyFold(*journal_);
  ASSERT_TRUE(v.ok());
  std::string text;
  for (const auto& x : *v) text += x.subject + ": " + x.what + "\n";
  EXPECT_NE(text.find("server srv-folded: the table says running, the events say stopped"),
            std::string::npos) << text;
  EXPECT_NE(text.find("server srv-folded: the table says VMID 777"), std::string::npos) << text;
  EXPECT_NE(text.find("lease of srv-folded: the table says epoch 9"), std::string::npos) << text;
}

TEST_F(FlowsTest, ProvisioningResumesAfterARestart) {
  std::string id = Provision("phoenix");
  // Stop at the readiness gate's durable sleep, or wherever it is, and come back.
  ASSERT_TRUE(RunUntil([&] { return Server("srv-phoenix").vmid() != 0; }));
  Close(Millis(0));
  Open();
  Wire();  // before the resumed workflows run
  ASSERT_TRUE(Await(engine_->Recover()).ok());
  EXPECT_EQ(AwaitEnd(id).status(), proto::COMPLETED);
  json::object state = SimState();
  ASSERT_EQ(state["containers"].as_array().size(), 1u);
  EXPECT_EQ(state["containers"].as_array()[0].at("createCalls").as_int64(), 1);
  ExpectVerified();
}

// A server reported running runs its game: provisioning starts the workload after installing it,
// before the proxy and DNS point players at it.
TEST_F(FlowsTest, AProvisionedServerRunsItsGame) {
  std::string id = Provision("playable");
  ASSERT_EQ(AwaitEnd(id).status(), proto::COMPLETED);
  int64_t vmid = Server("srv-playable").vmid();
  std::string workload;
  json::object state = SimState();
  for (const auto& a : state["agents"].as_array()) {
    if (a.at("vmid").as_int64() == vmid) workload = a.at("workload").as_string();
  }
  EXPECT_EQ(workload, "running");
  std::vector<std::string> steps;
  for (const auto& e : Events(id)) {
    if (e.has_step_completed() && e.step_completed().name().rfind("zlh.", 0) != 0) {
      steps.push_back(e.step_completed().name());
    }
  }
  std::vector<std::string> expected = {
      "allocate_vmid",    "create_container", "configure_container", "start_container",
      "wait_agent_ready", "install_workload", "start_workload",      "register_proxy",
      "publish_dns",      "mark_ready"};
  EXPECT_EQ(steps, expected);
}

// An operator's restart or stop of a server whose agent does not answer goes on without the agent
// (the container's stop ends the workload) and says so; the restart brings the agent back and the
// game with it.
TEST_F(FlowsTest, RestartAndStopGoOnWithTheAgentDown) {
  ASSERT_EQ(AwaitEnd(Provision("mute")).status(), proto::COMPLETED);
  const std::string vmid = std::to_string(Server("srv-mute").vmid());
  auto agent_offline = [&] {
    ASSERT_EQ(SimPost("/sim/faults", R"({"drift": "agent_offline", "vmid": )" + vmid + "}"), 200);
  };
  auto stop_workload_result = [&](const std::string& op) {
    for (const auto& e : Events(op)) {
      if (e.has_step_completed() && e.step_completed().name() == "stop_workload") {
        return e.step_completed().result();
      }
    }
    return std::string("<no stop_workload step>");
  };
  agent_offline();
  std::string restart = Operate("srv-mute", "restart", "r1");
  proto::WorkflowSummary s = AwaitEnd(restart);
  ASSERT_EQ(s.status(), proto::COMPLETED) << s.error().message();
  EXPECT_NE(stop_workload_result(restart).find("the agent is unreachable"), std::string::npos)
      << stop_workload_result(restart);
  json::object state = SimState();
  const auto& agent = state["agents"].as_array()[0].as_object();
  EXPECT_EQ(agent.at("state").as_string(), "ready");
  EXPECT_EQ(agent.at("workload").as_string(), "running");
  EXPECT_EQ(state["containers"].as_array()[0].at("status").as_string(), "running");

  agent_offline();
  std::string stop = Operate("srv-mute", "stop", "s1");
  s = AwaitEnd(stop);
  ASSERT_EQ(s.status(), proto::COMPLETED) << s.error().message();
  EXPECT_NE(stop_workload_result(stop).find("the agent is unreachable"), std::string::npos);
  EXPECT_EQ(SimState()["containers"].as_array()[0].at("status").as_string(), "stopped");
  EXPECT_EQ(Server("srv-mute").status(), proto::SERVER_STOPPED);
  ExpectVerified();
}

// The readiness gate records its wait and its outcome, not a step per probe: an agent that takes
// 30 probes to answer adds two events to the history.
TEST_F(FlowsTest, TheReadinessGateRecordsItsWaitNotEachProbe) {
  AgentHealthFails(30);
  std::string id = Provision("patient");
  EXPECT_EQ(AwaitEnd(id).status(), proto::COMPLETED);
  int gate_events = 0, sleeps = 0;
  for (const auto& e : Events(id)) {
    gate_events += (e.has_step_waiting() && e.step_waiting().name() == "wait_agent_ready") ||
                   (e.has_step_completed() && e.step_completed().name() == "wait_agent_ready");
    sleeps += e.has_timer_scheduled();
  }
  EXPECT_EQ(gate_events, 2);
  EXPECT_EQ(sleeps, 0);
  ExpectVerified();
}

// A provisioning in flight across the upgrade, whose history has the gate as it was recorded
// before (a step per probe, each followed by the time and a durable sleep), replays it and polls
// on from there without a non-determinism error.
TEST_F(FlowsTest, AGateRecordedAStepPerProbeResumesAfterTheUpgrade) {
  AgentHealthFails(20);
  std::string id = Provision("veteran");
  ASSERT_TRUE(RunUntil([&] {
    auto s = engine_->Summary(id);
    return s.ok() && s->waiting_for().kind() == "agent";
  }));
  Close(Millis(0));
  Open();  // the journal, before the engine recovers
  // What the earlier release recorded after the gate's first probe: its result, the time, a sleep.
  std::vector<proto::Event> events = Events(id);
  ASSERT_TRUE(events.back().has_step_waiting());
  uint32_t step = events.back().step_waiting().step();
  uint64_t seq = events.back().seq();
  int64_t now = NowMs();
  std::vector<proto::Event> legacy(3);
  auto* probe = legacy[0].mutable_step_completed();
  probe->set_step(step);
  probe->set_name("wait_agent_ready");
  probe->set_result("unreachable");
  probe->set_attempt(1);
  auto* clock = legacy[1].mutable_step_completed();
  clock->set_step(step + 1);
  clock->set_name("zlh.now");
  clock->set_result(std::to_string(now));
  auto* sleep = legacy[2].mutable_timer_scheduled();
  sleep->set_step(step + 2);
  sleep->set_fire_at_ms(now + 50);
  sleep->set_name("sleep 50ms");
  journal::Batch batch;
  for (auto& e : legacy) {
    e.set_seq(++seq);
    e.set_time_ms(now);
    batch.Put(journal::Cf::kEvents, journal::EventKey(id, seq), e.SerializeAsString());
  }
  batch.Put(journal::Cf::kIndex, journal::TimerIndexKey(now + 50, id, step + 2), "");
  ASSERT_TRUE(journal_->AppendSync(std::move(batch)).ok());
  Wire();
  ASSERT_TRUE(Await(engine_->Recover()).ok());
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::COMPLETED) << s.error().message();
  std::vector<std::string> gate;
  for (const auto& e : Events(id)) {
    if (e.has_step_completed() && e.step_completed().step() >= step &&
        e.step_completed().step() <= step + 3) {
      gate.push_back(e.step_completed().name() + "=" + e.step_completed().result());
    }
  }
  ASSERT_EQ(gate.size(), 3u);  // the legacy probe and time, then the poll that found it ready
  EXPECT_EQ(gate[0], "wait_agent_ready=unreachable");
  EXPECT_EQ(gate[2], "wait_agent_ready=ready");
  ExpectVerified();
}

}  // namespace
}  // namespace zlh::flows
