// zlh-sim's Proxmox VE as Proxmox answers, failures included (SPEC §9.5): errors with their
// message in the body and the status line, parameters refused with 400 on every route, locked
// guests refusing at the request or in the task, tasks that fail with an exit status, power
// changes already made refused, and a running container's interfaces with its DHCP lease.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <boost/json.hpp>
#include <sstream>

#include "base/temp_dir.h"
#include "sim/sim_world.h"

namespace zlh::sim {
namespace {

namespace json = boost::json;

// The errors object refusing `param` as one the route does not define.
std::string NotInSchema(const std::string& param) {
  return R"({")" + param +
         R"(": "property is not defined in schema and the schema does not allow additional )"
         R"(properties"})";
}

const std::map<std::string, std::string> kAuth = {
    {"authorization", "PVEAPIToken=zlh@pve!zlh=00000000-0000-0000-0000-00000000517e"}};

class SimProxmoxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = World::Open(tmp_.Sub("state.json"), {"pve1", "pve2"});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    world_ = std::move(w).value();
    ASSERT_EQ(Pve("POST", "nodes/pve1/lxc/9000/clone", "newid=101&hostname=survival").status, 200);
  }

  // A call below /api2/json; `target` may carry a query.
  HttpReply Pve(const std::string& method, const std::string& target, std::string body = "") {
    HttpCall call{method, "/api2/json/" + target, {}, kAuth, std::move(body)};
    size_t q = target.find('?');
    if (q != std::string::npos) {
      call.path = "/api2/json/" + target.substr(0, q);
      std::istringstream query(target.substr(q + 1));
      for (std::string pair; std::getline(query, pair, '&');) {
        call.query[pair.substr(0, pair.find('='))] = pair.substr(pair.find('=') + 1);
      }
    }
    return world_->Handle(call);
  }
  json::value Data(const HttpReply& r) { return json::parse(r.body).at("data"); }
  json::value Task(const HttpReply& started, const std::string& node = "pve1") {
    std::string upid(Data(started).as_string());
    return Data(Pve("GET", "nodes/" + node + "/tasks/" + upid + "/status"));
  }
  int Control(const std::string& body) {
    return world_->Handle({"POST", "/sim/faults", {}, {}, body}).status;
  }
  json::value Container() { return json::parse(world_->StateJson()).at("containers").at(0); }
  json::value StateOf(const char* what) { return json::parse(world_->StateJson()).at(what); }
  // Expects Proxmox's parameter verification failure with exactly `errors` (JSON).
  void ExpectRefused(const HttpReply& r, const std::string& errors) {
    ASSERT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.reason, "Parameter verification failed.");
    json::value body = json::parse(r.body);
    EXPECT_TRUE(body.at("data").is_null());
    EXPECT_EQ(body.at("errors"), json::parse(errors)) << r.body;
  }
  size_t Mutations() { return json::parse(world_->StateJson()).at("mutations").as_array().size(); }

  TempDir tmp_;
  std::unique_ptr<World> world_;
};

// As Proxmox's status cache lags a new guest, /cluster/resources lists a container cloned (or
// restored) a moment ago without its name and with status "unknown"; its config has the name.
TEST_F(SimProxmoxTest, AGuestJustMadeIsListedNamelessForAMoment) {
  auto listed = [&] {
    json::value all = Data(Pve("GET", "cluster/resources?type=vm"));
    for (const auto& g : all.as_array()) {
      if (g.at("vmid").as_int64() == 101) return g.as_object();
    }
    return json::object();
  };
  json::object fresh = listed();
  EXPECT_EQ(fresh.at("status"), "unknown");
  EXPECT_FALSE(fresh.contains("name"));
  EXPECT_EQ(Data(Pve("GET", "nodes/pve1/lxc/101/config")).at("hostname"), "survival");
  EXPECT_EQ(Data(Pve("GET", "nodes/pve1/lxc/101/status/current")).at("status"), "stopped");
  // It catches up within about a second.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!listed().contains("name") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  json::object later = listed();
  EXPECT_EQ(later.at("status"), "stopped");
  EXPECT_EQ(later.at("name"), "survival");
}

TEST_F(SimProxmoxTest, AnErrorSaysItsMessageInTheBodyAndTheStatusLine) {
  auto r = Pve("GET", "nodes/pve1/lxc/555/status/current");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.content_type, "application/json;charset=UTF-8");
  EXPECT_EQ(r.reason, "Configuration file 'nodes/pve1/lxc/555.conf' does not exist");
  EXPECT_EQ(
      json::parse(r.body),
      json::parse(
          R"({"data":null,"message":"Configuration file 'nodes/pve1/lxc/555.conf' does not exist\n"})"));
  auto unknown = Pve("GET", "nodes/pve1/lxc/101/snapshot");
  EXPECT_EQ(unknown.status, 501);
  EXPECT_EQ(unknown.reason, "Method 'GET /nodes/pve1/lxc/101/snapshot' not implemented");
}

// Every container route checks its parameters (path, query and form) before anything else, and
// answers a bad one with 400 {"data": null, "errors": {param: message}}: nothing changes.
TEST_F(SimProxmoxTest, EveryRouteRefusesABadParameterNamingIt) {
  struct Case {
    const char* method;
    const char* target;
    const char* body;
    const char* param;
    const char* message;
  };
  size_t mutations = Mutations();
  for (
      const Case& c : std::vector<Case>{
          {"POST", "nodes/pve1/lxc/9000/clone", "newid=42", "newid",
           "invalid format - value does not look like a valid VM ID\n"},
          {"POST", "nodes/pve1/lxc/9000/clone", "hostname=x", "newid",
           "property is missing and it is not optional"},
          {"POST", "nodes/pve1/lxc/9000/clone", "newid=102&colour=red", "colour",
           "property is not defined in schema and the schema does not allow additional properties"},
          {"POST", "nodes/pve1/lxc/9000/clone", "newid=102&full=yes", "full",
           "type check ('boolean') failed - got 'yes'"},
          {"POST", "nodes/pve1/lxc/9000/clone", "newid=102&hostname=a_b", "hostname",
           "invalid format - value does not look like a valid DNS name\n"},
          {"POST", "nodes/pve1/lxc/101/status/start", "skiplock=maybe", "skiplock",
           "type check ('boolean') failed - got 'maybe'"},
          {"POST", "nodes/pve1/lxc/101/status/stop", "force=1", "force",
           "property is not defined in schema and the schema does not allow additional properties"},
          {"POST", "nodes/pve1/lxc/101/status/reboot", "timeout=soon", "timeout",
           "type check ('integer') failed - got 'soon'"},
          {"GET", "nodes/pve1/lxc/abc/status/current", "", "vmid",
           "type check ('integer') failed - got 'abc'"},
          {"GET", "nodes/pve1/lxc/99/interfaces", "", "vmid",
           "invalid format - value does not look like a valid VM ID\n"},
          {"GET", "nodes/pve1/lxc/101/config?current=2", "", "current",
           "type check ('boolean') failed - got '2'"},
          {"DELETE", "nodes/pve1/lxc/101?purge=all", "", "purge",
           "type check ('boolean') failed - got 'all'"},
          {"PUT", "nodes/pve1/lxc/101/config", "cores=two", "cores",
           "type check ('integer') failed - got 'two'"},
          {"PUT", "nodes/pve1/lxc/101/resize", "disk=rootfs&size=big", "size",
           "value does not match the regex pattern"},
          {"GET", "nodes/pve1/tasks/not-a-upid/status", "", "upid", "unable to parse worker upid"},
          {"GET",
           "nodes/pve1/tasks/UPID:pve1:000000FF:00000000:00000000:vzstart:101:zlh@pve!zlh:/status",
           "", "upid", "no such task"},
          {"GET", "nodes/pve_1/lxc/101/status/current", "", "node",
           "invalid format - value does not look like a valid node name\n"},
          {"GET", "cluster/resources?type=guests", "", "type",
           "value 'guests' does not have a value in the enumeration 'vm, storage, node, sdn'"},
      }) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target + " " + c.body);
    auto r = Pve(c.method, c.target, c.body);
    ASSERT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.reason, "Parameter verification failed.");
    json::value body = json::parse(r.body);
    EXPECT_TRUE(body.at("data").is_null());
    EXPECT_EQ(body.at("errors").at(c.param).as_string(), c.message) << r.body;
  }
  EXPECT_EQ(Mutations(), mutations);  // refused before anything was done
  EXPECT_EQ(json::parse(world_->StateJson()).at("containers").as_array().size(), 1u);
  EXPECT_EQ(Container().at("status").as_string(), "stopped");
}

// A config lock refuses where Proxmox checks it: a config PUT, a resize, a destroy and a clone of
// the locked guest at the request (500), a start or stop inside its task; reads go on and show the
// lock. A counted lock lifts after that many refusals, as the backup holding it ends.
TEST_F(SimProxmoxTest, ALockedContainerRefusesAtTheRequestOrInItsTask) {
  ASSERT_EQ(Control(R"({"lock":"backup","vmid":101})"), 200);
  auto put = Pve("PUT", "nodes/pve1/lxc/101/config", "cores=2");
  EXPECT_EQ(put.status, 500);
  EXPECT_EQ(put.reason, "CT is locked (backup)");
  EXPECT_EQ(Pve("PUT", "nodes/pve1/lxc/101/resize", "disk=rootfs&size=20G").reason,
            "CT is locked (backup)");
  EXPECT_EQ(Pve("DELETE", "nodes/pve1/lxc/101").reason, "CT is locked (backup)");
  EXPECT_EQ(Pve("POST", "nodes/pve1/lxc/101/clone", "newid=102").reason, "CT is locked (backup)");
  auto start = Pve("POST", "nodes/pve1/lxc/101/status/start");
  ASSERT_EQ(start.status, 200);  // the task starts, and fails
  json::value task = Task(start);
  EXPECT_EQ(task.at("status").as_string(), "stopped");
  EXPECT_EQ(task.at("exitstatus").as_string(), "CT is locked (backup)");
  EXPECT_EQ(task.at("type").as_string(), "vzstart");
  EXPECT_EQ(Container().at("status").as_string(), "stopped");
  EXPECT_EQ(Data(Pve("GET", "nodes/pve1/lxc/101/status/current")).at("lock").as_string(), "backup");
  EXPECT_EQ(Container().at("cores").as_int64(), 1);  // nothing was changed
  ASSERT_EQ(Control(R"({"lock":"backup","vmid":101,"clear":true})"), 200);
  EXPECT_EQ(Pve("PUT", "nodes/pve1/lxc/101/config", "cores=2").status, 200);

  ASSERT_EQ(Control(R"({"lock":"backup","vmid":101,"count":2})"), 200);
  EXPECT_EQ(Pve("PUT", "nodes/pve1/lxc/101/config", "cores=3").status, 500);
  EXPECT_EQ(Pve("PUT", "nodes/pve1/lxc/101/config", "cores=3").status, 500);
  EXPECT_EQ(Pve("PUT", "nodes/pve1/lxc/101/config", "cores=3").status, 200);  // the backup ended
  EXPECT_EQ(Container().at("cores").as_int64(), 3);
}

// The config file's lock held by another task: "can't lock file ... - got timeout", at the
// request for a config PUT and a clone, inside the task for the power calls, reboot included.
TEST_F(SimProxmoxTest, AHeldConfigFileLockTimesOut) {
  ASSERT_EQ(Control(R"({"lock":"file","vmid":101})"), 200);
  auto put = Pve("PUT", "nodes/pve1/lxc/101/config", "cores=2");
  EXPECT_EQ(put.status, 500);
  EXPECT_EQ(put.reason, "can't lock file '/run/lock/lxc/pve-config-101.lock' - got timeout");
  ASSERT_EQ(Control(R"({"lock":"file","vmid":9000})"), 200);  // a template is locked while cloned
  EXPECT_EQ(Pve("POST", "nodes/pve1/lxc/9000/clone", "newid=102").reason,
            "can't lock file '/run/lock/lxc/pve-config-9000.lock' - got timeout");
  ASSERT_EQ(Control(R"({"lock":"file","vmid":9000,"clear":true})"), 200);
  EXPECT_EQ(Pve("POST", "nodes/pve1/lxc/9000/clone", "newid=102").status, 200);
  json::value task = Task(Pve("POST", "nodes/pve1/lxc/101/status/start"));
  EXPECT_EQ(task.at("exitstatus").as_string(),
            "can't lock file '/run/lock/lxc/pve-config-101.lock' - got timeout");
}

TEST_F(SimProxmoxTest, AnInjectedTaskFailureEndsTheTaskWithItsExitStatus) {
  ASSERT_EQ(Control(R"({"call":"proxmox.start","mode":"taskFailed"})"), 200);
  ASSERT_EQ(
      Control(
          R"({"call":"proxmox.create","mode":"taskFailed","exitstatus":"clone failed: disk full"})"),
      200);
  auto started = Pve("POST", "nodes/pve1/lxc/101/status/start");
  json::value start = Task(started);
  EXPECT_EQ(start.at("exitstatus").as_string(), "startup for container '101' failed");
  EXPECT_EQ(Container().at("status").as_string(), "stopped");  // the task did nothing
  json::value clone = Task(Pve("POST", "nodes/pve1/lxc/9000/clone", "newid=102"));
  EXPECT_EQ(clone.at("exitstatus").as_string(), "clone failed: disk full");
  EXPECT_EQ(json::parse(world_->StateJson()).at("containers").as_array().size(), 1u);
  // Used up: the next start works; the failure outlives a restart of the simulator.
  json::value again = Task(Pve("POST", "nodes/pve1/lxc/101/status/start"));
  EXPECT_EQ(again.at("exitstatus").as_string(), "OK");
  world_.reset();
  auto reopened = World::Open(tmp_.Sub("state.json"), {});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  world_ = std::move(reopened).value();
  EXPECT_EQ(Task(started).at("exitstatus").as_string(), "startup for container '101' failed");
  EXPECT_EQ(Control(R"({"call":"proxmox.status","mode":"taskFailed"})"), 400);  // no task there
  EXPECT_EQ(Control(R"({"call":"proxmox.start","mode":"error","exitstatus":"x"})"), 400);
}

TEST_F(SimProxmoxTest, BadLocksAreRefusedNamingTheField) {
  EXPECT_EQ(Control(R"({"lock":"nap","vmid":101})"), 400);
  EXPECT_EQ(Control(R"({"lock":"backup"})"), 400);
  EXPECT_EQ(Control(R"({"lock":"backup","vmid":555})"), 404);
  EXPECT_EQ(Control(R"({"lock":"backup","vmid":101,"count":0})"), 400);
  EXPECT_EQ(Control(R"({"lock":"backup","vmid":101,"until":"later"})"), 400);
  EXPECT_EQ(Pve("PUT", "nodes/pve1/lxc/101/config", "cores=2").status, 200);  // none was taken
}

// Proxmox refuses a power change already made, and the destroy of a running container.
TEST_F(SimProxmoxTest, WhatIsAlreadySoIsRefusedAsProxmoxDoes) {
  EXPECT_EQ(Pve("POST", "nodes/pve1/lxc/101/status/stop").reason, "CT 101 not running");
  EXPECT_EQ(Pve("POST", "nodes/pve1/lxc/101/status/reboot").reason, "VM 101 not running");
  ASSERT_EQ(Pve("POST", "nodes/pve1/lxc/101/status/start").status, 200);
  EXPECT_EQ(Pve("POST", "nodes/pve1/lxc/101/status/start").reason, "CT 101 already running");
  auto destroy = Pve("DELETE", "nodes/pve1/lxc/101");
  EXPECT_EQ(destroy.reason, "unable to destroy CT 101 - container is running");
  EXPECT_EQ(json::parse(world_->StateJson()).at("containers").as_array().size(), 1u);
  EXPECT_EQ(Pve("PUT", "nodes/pve1/lxc/101/resize", "disk=rootfs&size=8G").reason,
            "disk is already at specified size");
  EXPECT_EQ(Pve("DELETE", "nodes/pve1/lxc/101?force=1").status, 200);
  EXPECT_TRUE(json::parse(world_->StateJson()).at("containers").as_array().empty());
}

// GET .../interfaces: null while stopped; lo and eth0 with net0's address once running, or on
// ip=dhcp the lowest free lease, kept across a restart and freed with the container.
TEST_F(SimProxmoxTest, InterfacesReportNet0OrTheDhcpLease) {
  ASSERT_EQ(Pve("POST", "nodes/pve1/lxc/9000/clone", "newid=102&hostname=b").status, 200);
  ASSERT_EQ(Pve("PUT", "nodes/pve1/lxc/101/config",
                "net0=name%3Deth0%2Cbridge%3Dvmbr1%2Cip%3D10.20.1.10%2F22%2Chwaddr%3DBC%3A24%3A11%"
                "3A0A%3A0B%3A0C")
                .status,
            200);
  ASSERT_EQ(Pve("PUT", "nodes/pve1/lxc/102/config", "net0=name%3Deth0%2Cbridge%3Dvmbr1%2Cip%3Ddhcp")
                .status,
            200);
  EXPECT_TRUE(Data(Pve("GET", "nodes/pve1/lxc/101/interfaces")).is_null());
  for (const char* vmid : {"101", "102"}) {
    ASSERT_EQ(Pve("POST", std::string("nodes/pve1/lxc/") + vmid + "/status/start").status, 200);
  }
  json::value statics = Data(Pve("GET", "nodes/pve1/lxc/101/interfaces"));
  ASSERT_EQ(statics.as_array().size(), 2u);
  EXPECT_EQ(statics.at(0).at("name").as_string(), "lo");
  EXPECT_EQ(statics.at(0).at("inet").as_string(), "127.0.0.1/8");
  EXPECT_EQ(statics.at(1).at("name").as_string(), "eth0");
  EXPECT_EQ(statics.at(1).at("inet").as_string(), "10.20.1.10/22");
  EXPECT_EQ(statics.at(1).at("hwaddr").as_string(), "bc:24:11:0a:0b:0c");
  EXPECT_EQ(statics.at(1).at("inet6").as_string(), "fe80::be24:11ff:fe0a:b0c/64");
  EXPECT_EQ(statics.at(1).at("ip-addresses").at(0).at("ip-address").as_string(), "10.20.1.10");
  json::value leased = Data(Pve("GET", "nodes/pve1/lxc/102/interfaces"));
  EXPECT_EQ(leased.at(1).at("inet").as_string(), "127.2.0.10/16");
  // The lease outlives a restart; a new container gets the next one once the first is freed.
  ASSERT_EQ(Pve("POST", "nodes/pve1/lxc/102/status/stop").status, 200);
  ASSERT_EQ(Pve("POST", "nodes/pve1/lxc/102/status/start").status, 200);
  EXPECT_EQ(Data(Pve("GET", "nodes/pve1/lxc/102/interfaces")).at(1).at("inet").as_string(),
            "127.2.0.10/16");
  ASSERT_EQ(Pve("DELETE", "nodes/pve1/lxc/102?force=1").status, 200);
  ASSERT_EQ(Pve("POST", "nodes/pve1/lxc/9000/clone", "newid=103&hostname=c").status, 200);
  ASSERT_EQ(Pve("PUT", "nodes/pve1/lxc/103/config", "net0=name%3Deth0%2Cbridge%3Dvmbr1%2Cip%3Ddhcp")
                .status,
            200);
  ASSERT_EQ(Pve("POST", "nodes/pve1/lxc/103/status/start").status, 200);
  EXPECT_EQ(Data(Pve("GET", "nodes/pve1/lxc/103/interfaces")).at(1).at("inet").as_string(),
            "127.2.0.10/16");
}

// POST /nodes/{node}/vzdump checks its schema (pve-guest-common's VZDump::Common), then what
// API2/VZDump.pm and verify_vzdump_parameters check, each in Proxmox's words; nothing is backed up.
TEST_F(SimProxmoxTest, VzdumpRefusesBadParametersAsProxmoxDoes) {
  size_t mutations = Mutations();
  ExpectRefused(Pve("POST", "nodes/pve1/vzdump", "storage=local&mode=snapshot"),
                R"({"vmid": "property is missing"})");
  ExpectRefused(Pve("POST", "nodes/pve1/vzdump", "vmid=101&mode=fast"),
                R"({"mode": "value 'fast' does not have a value in the enumeration )"
                R"('snapshot, suspend, stop'"})");
  ExpectRefused(Pve("POST", "nodes/pve1/vzdump", "vmid=101,7&compress=rar"),
                R"({"vmid": "invalid format - value does not look like a valid VM ID\n",
                    "compress": "value 'rar' does not have a value in the enumeration )"
                R"('0, 1, gzip, lzo, zstd'"})");
  ExpectRefused(Pve("POST", "nodes/pve1/vzdump", "vmid=101&storage=local&colour=red"),
                NotInSchema("colour"));
  ExpectRefused(Pve("POST", "nodes/pve1/vzdump", "vmid=101&dumpdir=%2Ftmp"),
                R"({"dumpdir": "Only root may set this option."})");
  ExpectRefused(Pve("POST", "nodes/pve1/vzdump", "vmid=101&all=1"),
                R"({"all": "option conflicts with option 'vmid'"})");
  ExpectRefused(Pve("POST", "nodes/pve1/vzdump", "vmid=101&stdout=1"),
                R"({"stdout": "option is only allowed on the command line interface."})");
  EXPECT_EQ(Mutations(), mutations);
  EXPECT_TRUE(StateOf("backups").as_array().empty());
  EXPECT_EQ(Pve("POST", "nodes/pve1/vzdump", "vmid=101&storage=local&mode=snapshot").status, 200);
  EXPECT_EQ(StateOf("backups").as_array().size(), 1u);
}

// GET /nodes/{node}/storage/{storage}/content checks pve-storage's schema; a content type other
// than backup lists nothing, as the simulated storage holds backups only.
TEST_F(SimProxmoxTest, StorageContentRefusesBadParametersAsProxmoxDoes) {
  ASSERT_EQ(Pve("POST", "nodes/pve1/vzdump", "vmid=101&storage=local").status, 200);
  ExpectRefused(Pve("GET", "nodes/pve1/storage/local/content?content=backups"),
                R"({"content": "invalid format - invalid content type 'backups'\n"})");
  ExpectRefused(Pve("GET", "nodes/pve1/storage/local/content?content=backup&vmid=abc"),
                R"({"vmid": "type check ('integer') failed - got 'abc'"})");
  ExpectRefused(Pve("GET", "nodes/pve1/storage/1local/content"),
                R"({"storage": )"
                R"("invalid format - storage ID '1local' contains illegal characters\n"})");
  ExpectRefused(Pve("GET", "nodes/pve1/storage/local/content?kind=backup"),
                NotInSchema("kind"));
  EXPECT_EQ(Data(Pve("GET", "nodes/pve1/storage/local/content?content=backup&vmid=101"))
                .as_array()
                .size(),
            1u);
  EXPECT_TRUE(Data(Pve("GET", "nodes/pve1/storage/local/content?content=iso")).as_array().empty());
}

// POST /nodes/{node}/lxc with restore=1 checks pve-container's create_vm schema (its parameters
// and the container's options) before anything else; nothing is restored.
TEST_F(SimProxmoxTest, RestoreRefusesBadParametersAsProxmoxDoes) {
  ASSERT_EQ(Pve("POST", "nodes/pve1/vzdump", "vmid=101&storage=local").status, 200);
  const std::string backup = "ostemplate=local%3Abackup%2Fvzdump-lxc-101";
  size_t mutations = Mutations();
  ExpectRefused(Pve("POST", "nodes/pve1/lxc", "vmid=102&restore=1&force=1"),
                R"({"ostemplate": "property is missing and it is not optional"})");
  ExpectRefused(Pve("POST", "nodes/pve1/lxc", backup + "&restore=1"),
                R"({"vmid": "property is missing and it is not optional"})");
  ExpectRefused(Pve("POST", "nodes/pve1/lxc", "vmid=10x&restore=yes&" + backup),
                R"({"vmid": "type check ('integer') failed - got '10x'",
                    "restore": "type check ('boolean') failed - got 'yes'"})");
  ExpectRefused(Pve("POST", "nodes/pve1/lxc", "vmid=102&restore=1&storage=_x&cores=two&" + backup),
                R"({"storage": "invalid format - storage ID '_x' contains illegal characters\n",
                    "cores": "type check ('integer') failed - got 'two'"})");
  ExpectRefused(Pve("POST", "nodes/pve1/lxc", "vmid=102&restore=1&colour=red&" + backup),
                NotInSchema("colour"));
  EXPECT_EQ(Mutations(), mutations);
  EXPECT_EQ(StateOf("containers").as_array().size(), 1u);
  EXPECT_EQ(Pve("POST", "nodes/pve1/lxc", "vmid=102&restore=1&" + backup).status, 200);
  EXPECT_EQ(StateOf("containers").as_array().size(), 2u);
}

}  // namespace
}  // namespace zlh::sim
