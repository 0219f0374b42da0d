// Addresses and sizing (SPEC §9.1, §9.2) end to end on a real zlh-sim: concurrent provisionings
// across two nodes get distinct addresses from their node's pool (skipping one a foreign guest
// uses), each container configured to its plan and registered and published at its address; an
// exhausted pool fails the next provisioning with no_capacity and leaks nothing; a history recorded
// before addresses existed finishes on its old path without a non-determinism error.
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "base/ipv4.h"
#include "flows/capacity.h"
#include "flows/container_config.h"
#include "journal/format.h"
#include "tests/flows_fixture.h"
#include "workflows/replay.h"

namespace zlh::flows {
namespace {

namespace json = boost::json;

// The config's fields: VMIDs, the plans small and large, room on zlh-sim's two 64 GiB nodes for
// fifty servers of them (placement weighs memory: nodes_test), and `pools` (a JSON list).
std::string WithPools(const std::string& pools) {
  return R"("vmids": {"first": 100, "last": 999}, "placement": {"memoryOvercommit": 4}, "plans": [
      {"name": "small", "cores": 2, "memoryMb": 4096, "swapMb": 512, "diskGb": 20},
      {"name": "large", "cores": 4, "memoryMb": 8192, "swapMb": 1024, "diskGb": 40}],
      "network": {"pools": )" + pools + "}";
}

class IpamTest : public FlowsTest {
 protected:
  std::string Fields() const override {
    return WithPools(R"([
        {"name": "one", "nodes": ["pve1"], "bridge": "vmbr1", "cidr": "10.20.0.0/24",
         "gateway": "10.20.0.1", "first": "10.20.0.10", "last": "10.20.0.250"},
        {"name": "two", "nodes": ["pve2"], "bridge": "vmbr2", "cidr": "10.21.0.0/24",
         "gateway": "10.21.0.1", "first": "10.21.0.10", "last": "10.21.0.250", "vlan": 12,
         "nameservers": ["1.1.1.1", "10.21.0.1"]}])");
  }

  // A request to the simulator's Proxmox API.
  long Pve(const std::string& method, const std::string& path, const std::string& form) {
    activities::HttpRequest r;
    r.method = method;
    r.url = sim_.url() + "/api2/json" + path;
    r.headers.emplace_back("Authorization", "PVEAPIToken=" + settings_.file.proxmox().token());
    r.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    r.body = form;
    auto res = Await(client_.Send(r));
    return res.ok() ? res->status : 0;
  }
};

TEST_F(IpamTest, FiftyConcurrentProvisioningsGetDistinctAddressesAndTheirPlansSize) {
  // A foreign container already uses the first address of pve1's pool.
  ASSERT_EQ(SimPost("/sim/containers", R"({"vmid": 105, "node": "pve1", "hostname": "foreign"})"),
            201);
  ASSERT_EQ(Pve("PUT", "/nodes/pve1/lxc/105/config",
                "net0=name%3Deth0%2Cbridge%3Dvmbr1%2Cip%3D10.20.0.10%2F24"),
            200);
  std::map<std::string, std::string> ids, plans;  // name → workflow, plan
  for (int i = 0; i < 50; ++i) {
    std::string name = "srv" + std::to_string(i);
    plans[name] = i % 2 ? "large" : "small";
    ids[name] =
        Provision(name, i % 10 == 9 ? "dev" : "game", "c-" + std::to_string(i / 5), plans[name]);
  }
  std::set<std::string> addresses;
  std::map<std::string, proto::Server> servers;  // by name
  std::map<std::string, int> per_node;
  for (const auto& [name, id] : ids) {
    proto::WorkflowSummary s = AwaitEnd(id);
    ASSERT_EQ(s.status(), proto::COMPLETED) << name << ": " << s.error().message();
    proto::Server server = Server("srv-" + name);
    EXPECT_TRUE(addresses.insert(server.address()).second) << server.address() << " twice";
    auto a = ParseIpv4(server.address());
    ASSERT_TRUE(a.has_value()) << name << " has no address";
    const char* block = server.node() == "pve1" ? "10.20.0.0/24" : "10.21.0.0/24";
    EXPECT_TRUE(ParseCidr(block)->Contains(*a)) << server.address() << " is not in " << block;
    EXPECT_NE(server.address(), "10.20.0.10") << "the foreign guest's address was given out";
    ++per_node[server.node()];
    servers[name] = server;
  }
  EXPECT_GE(per_node["pve1"], 20);
  EXPECT_GE(per_node["pve2"], 20);

  json::object state = SimState();
  std::map<int64_t, json::object> containers;
  for (const auto& c : state["containers"].as_array())
    containers[c.at("vmid").as_int64()] = c.as_object();
  std::map<std::string, std::string> proxy = ProxyRegistrations(), a_records = ARecords();
  for (const auto& [name, server] : servers) {
    const json::object& c = containers[server.vmid()];
    bool pve1 = server.node() == "pve1";
    std::string net0 = "name=eth0,bridge=" + std::string(pve1 ? "vmbr1" : "vmbr2") +
                       ",ip=" + server.address() + "/24,gw=" + (pve1 ? "10.20.0.1" : "10.21.0.1") +
                       (pve1 ? "" : ",tag=12") + ",firewall=1";
    EXPECT_EQ(c.at("net0"), json::value(net0)) << name;
    EXPECT_EQ(c.at("node"), json::value(server.node())) << name;
    bool large = plans[name] == "large";
    EXPECT_EQ(c.at("cores").as_int64(), large ? 4 : 2) << name;
    EXPECT_EQ(c.at("memoryMb").as_int64(), large ? 8192 : 4096) << name;
    EXPECT_EQ(c.at("swapMb").as_int64(), large ? 1024 : 512) << name;
    EXPECT_EQ(c.at("diskGb").as_int64(), large ? 40 : 20) << name;
    if (server.ctype() == "dev") {
      EXPECT_EQ(a_records[name + ".play.example"], server.address()) << name;
      EXPECT_EQ(proxy.count(name), 0u);
    } else {
      EXPECT_EQ(proxy[name], server.address() + ":25565") << name;
    }
  }
  ExpectVerified();
}

// configure_container again (a retry after a crash) changes nothing: it reads first and finds
// the config and the disk already so.
TEST_F(IpamTest, ConfiguringAgainChangesNothing) {
  ASSERT_EQ(AwaitEnd(Provision("again", "game", "c-1", "large")).status(), proto::COMPLETED);
  proto::Server server = Server("srv-again");
  auto mutations = [&] { return SimState()["mutations"].as_array().size(); };
  size_t before = mutations();
  ProvisionInput in{server.server_id(), "c-1", "game", "again", "vanilla", "large", ""};
  auto spec = SpecOf(settings_, in, server.node(), server.address());
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  auto again =
      Await(ApplySpec(*deps_.hypervisor, {"test:1", 0}, server.node(), server.vmid(), *spec));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_NE(again->find("config already so"), std::string::npos) << *again;
  EXPECT_EQ(again->find("rootfs"), std::string::npos) << *again;
  EXPECT_EQ(mutations(), before) << "a repeated configuration wrote to Proxmox";
  // The recorded step says what was applied, for zlh-journal show.
  std::string recorded;
  for (const auto& e : Events(Server("srv-again").provision_workflow())) {
    if (e.has_step_completed() && e.step_completed().name() == "configure_container") {
      recorded = e.step_completed().result();
    }
  }
  EXPECT_NE(recorded.find("cores 4, memory 8192 MB, swap 1024 MB, disk 40 GB"), std::string::npos)
      << recorded;
  EXPECT_NE(recorded.find("rootfs 8G → 40G"), std::string::npos) << recorded;
}

class SmallPoolTest : public IpamTest {
 protected:
  std::string Fields() const override {
    return WithPools(R"([{"name": "tiny", "nodes": ["pve1"], "bridge": "vmbr1",
        "cidr": "10.20.0.0/24", "gateway": "10.20.0.1", "first": "10.20.0.10", "last": "10.20.0.11"}])");
  }
};

TEST_F(SmallPoolTest, AnExhaustedPoolFailsWithNoCapacityAndLeaksNothing) {
  ASSERT_EQ(AwaitEnd(Provision("first")).status(), proto::COMPLETED);
  ASSERT_EQ(AwaitEnd(Provision("second")).status(), proto::COMPLETED);
  EXPECT_EQ(Server("srv-first").address(), "10.20.0.10");  // lowest free first
  EXPECT_EQ(Server("srv-second").address(), "10.20.0.11");

  std::string id = Provision("third");  // pve2 has no pool: no node fits
  proto::WorkflowSummary s = AwaitEnd(id);
  EXPECT_EQ(s.status(), proto::FAILED);
  EXPECT_EQ(s.error().code(), "no_capacity") << s.error().message();
  EXPECT_TRUE(s.compensated());
  proto::Server third = Server("srv-third");
  EXPECT_EQ(third.status(), proto::SERVER_FAILED);
  EXPECT_EQ(third.vmid(), 0);
  EXPECT_EQ(third.address(), "");
  EXPECT_EQ(fleet::ListVmids(*journal_)->size(), 2u) << "a VMID leaked";
  EXPECT_EQ(fleet::ListAddresses(*journal_)->size(), 2u) << "an address leaked";
  json::object state = SimState();
  EXPECT_EQ(state["containers"].as_array().size(), 2u);
  EXPECT_TRUE(RunUntilShown("alerts-provisioning", [&](const json::object& m) {
    return m.at("ping").as_bool() &&
           std::string(m.at("content").as_string()).find(id) != std::string::npos;
  }));
  ExpectVerified();

  // A deletion frees the address at once: the next provisioning gets it.
  auto gone = Await(engine_->Start(DeprovisionStart("srv-first", "c-1")));
  ASSERT_TRUE(gone.ok());
  ASSERT_EQ(AwaitEnd(gone->id).status(), proto::COMPLETED);
  EXPECT_EQ(Server("srv-first").address(), "");
  ASSERT_EQ(AwaitEnd(Provision("fourth")).status(), proto::COMPLETED);
  EXPECT_EQ(Server("srv-fourth").address(), "10.20.0.10");
  ExpectVerified();
}

// A provisioning recorded by the code before addresses (allocate_vmid's result a bare VMID, no
// node or address on the server) is resumed by this code: its history holds create_container
// next (a failed attempt), so it goes on along the old path, takes allocate_address and
// configure_container where its history ends, finishes, and replays without a divergence.
TEST_F(IpamTest, AHistoryFromBeforeAddressesFinishesOnItsOldPath) {
  // The clone fails once: the crash below comes while create_container waits to try again.
  ASSERT_EQ(SimPost("/sim/faults",
                    R"({"call": "proxmox.create", "mode": "error", "count": 1, "status": 500})"),
            200);
  std::string id = Provision("legacy");
  auto find = [&](bool failed, const std::string& name) -> std::optional<proto::Event> {
    for (const auto& e : Events(id)) {
      if (!failed && e.has_step_completed() && e.step_completed().name() == name) return e;
      if (failed && e.has_step_failed() && e.step_failed().name() == name) return e;
    }
    return std::nullopt;
  };
  ASSERT_TRUE(RunUntil([&] { return find(true, "create_container").has_value(); }));
  Close(Millis(0));
  Open();
  // What the older code had written: the bare VMID, and a server with no node or address.
  proto::Event e = *find(false, "allocate_vmid");
  std::string vmid = e.step_completed().result().substr(0, e.step_completed().result().find(' '));
  e.mutable_step_completed()->set_result(vmid);
  ASSERT_TRUE(journal_
                  ->AppendSync({},
                               [&](journal::Txn& t) -> Status {
                                 t.Put(journal::Cf::kEvents, journal::EventKey(id, e.seq()),
                                       e.SerializeAsString());
                                 auto server = fleet::GetServer(t, "srv-legacy");
                                 if (!server.ok()) return server.status();
                                 ZLH_RETURN_IF_ERROR(
                                     fleet::ReleaseAddress(t, (*server)->address(), "srv-legacy"));
                                 (*server)->clear_node();
                                 (*server)->clear_address();
                                 return fleet::PutServer(t, **server);
                               })
                  .ok());
  Wire();
  ASSERT_TRUE(Await(engine_->Recover()).ok());

  proto::WorkflowSummary s = AwaitEnd(id);
  ASSERT_EQ(s.status(), proto::COMPLETED) << s.error().code() << ": " << s.error().message();
  proto::Server server = Server("srv-legacy");
  EXPECT_FALSE(server.address().empty());
  std::vector<std::string> steps;
  for (const auto& ev : Events(id)) {
    if (ev.has_step_completed()) steps.push_back(ev.step_completed().name());
  }
  auto at = [&](const char* name) { return std::find(steps.begin(), steps.end(), name) - steps.begin(); };
  ASSERT_LT(at("allocate_address"), static_cast<long>(steps.size()));
  ASSERT_LT(at("configure_container"), static_cast<long>(steps.size()));
  // The old path: create_container where the history held it, the new steps after it.
  EXPECT_LT(at("create_container"), at("allocate_address"));
  EXPECT_LT(at("allocate_address"), at("configure_container"));
  EXPECT_LT(at("configure_container"), at("start_container"));
  json::object state = SimState();
  ASSERT_EQ(state["containers"].as_array().size(), 1u);
  EXPECT_EQ(state["containers"].as_array()[0].at("diskGb").as_int64(), 20);
  EXPECT_EQ(state["proxyRegistrations"].as_array()[0].at("address"),
            json::value(server.address() + ":25565"));
  auto replay = workflows::Replay(registry_, *journal_, id);
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->matches) << replay->divergence;
  ExpectVerified();
}

// GET /api/nodes's rows: a node the tables name but the hypervisor no longer reports is listed as
// absent; a live server whose plan is no longer configured counts as the largest plan.
TEST(CapacityTest, NodeStatesKeepWhatTheHypervisorNoLongerReports) {
  config::Settings s = config::Defaults();  // small 4096, medium 8192, large 16384
  s.memory_overcommit = 1.5;
  std::vector<activities::HostNode> reported = {{"pve1", "online", 0.1, 0, int64_t{64} << 30},
                                                {"pve2", "offline", 0, 0, 0}};
  proto::NodeDrain drain;
  drain.set_node("pve3");
  drain.set_on(true);
  drain.set_reason("retired");
  drain.set_since_ms(1000);
  fleet::NodeUse on_pve1{2, {{"small", 1}, {"retired-plan", 1}}};
  auto states = NodeStates(s, reported, {drain}, {{"pve1", on_pve1}, {"pve4", {1, {{"small", 1}}}}});
  ASSERT_EQ(states.size(), 4u);
  EXPECT_EQ(states[0].name, "pve1");
  EXPECT_EQ(states[0].committed_mb, 4096 + 16384);
  EXPECT_EQ(states[0].maxmem_mb, 65536);
  EXPECT_EQ(states[0].limit_mb, 98304);
  EXPECT_EQ(states[1].status, "offline");
  EXPECT_EQ(states[1].limit_mb, 0);
  EXPECT_EQ(states[2].name, "pve3");
  EXPECT_EQ(states[2].status, "absent");
  EXPECT_TRUE(states[2].drained);
  EXPECT_EQ(states[2].drain_reason, "retired");
  EXPECT_EQ(states[3].status, "absent");
  EXPECT_EQ(states[3].servers, 1u);
  // Room on pve1: 98304 MB allowed, 20480 committed.
  EXPECT_EQ(CapacityRefusal(s, nullptr, on_pve1, int64_t{64} << 30, 77824), std::nullopt);
  EXPECT_TRUE(CapacityRefusal(s, nullptr, on_pve1, int64_t{64} << 30, 77825).has_value());
}

}  // namespace
}  // namespace zlh::flows
