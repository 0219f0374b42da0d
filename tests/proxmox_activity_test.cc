// The Proxmox activity against zlh-sim over real HTTP: idempotent clone, guarded destroy, power,
// fencing, interfaces, and the classification of failures for the retry policy (a lock and a
// failed task are retried, a refused parameter is not).
#include <gtest/gtest.h>

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <curl/curl.h>

#include "activities/proxmox.h"
#include "base/temp_dir.h"
#include "tests/sim_process.h"

namespace zlh::activities {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

class ProxmoxActivityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(sim_.url().empty());
    ProxmoxOptions o;
    o.base_url = sim_.url();
    o.token = "zlh@pve!zlh=00000000-0000-0000-0000-00000000517e";
    o.task_poll_interval = Millis(10);
    o.request_timeout = Millis(2'000);
    pve_ = std::make_unique<ProxmoxHypervisor>(http_, o);
  }

  template <typename T>
  T Run(Task<T> task) {
    auto f = asio::co_spawn(io_, std::move(task), asio::use_future);
    io_.restart();
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      io_.run_one_for(std::chrono::milliseconds(10));
    }
    return f.get();
  }

  // A raw call to the simulator's own routes.
  long SimPost(const std::string& path, const std::string& body) {
    HttpRequest r;
    r.method = "POST";
    r.url = sim_.url() + path;
    r.body = body;
    auto res = Run(http_.Send(r));
    return res.ok() ? res->status : 0;
  }
  json::value SimState() {
    HttpRequest r;
    r.url = sim_.url() + "/sim/state";
    return json::parse(Run(http_.Send(r))->body);
  }

  TempDir tmp_;
  Sim sim_{tmp_.Sub("sim.json")};
  asio::io_context io_;
  HttpClient http_{2};
  std::unique_ptr<ProxmoxHypervisor> pve_;
  CallContext ctx_{"wf:2", 0};
};

TEST_F(ProxmoxActivityTest, CloneIsIdempotentByVmidAndHostname) {
  auto placed = Run(pve_->Clone(ctx_, "pve1", 9000, "pve2", 101, "survival"));
  ASSERT_TRUE(placed.ok());
  EXPECT_EQ(*placed, "pve2");
  // A retry, even one that would place it elsewhere, finds it where it is.
  auto again = Run(pve_->Clone(ctx_, "pve1", 9000, "pve1", 101, "survival"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, "pve2");
  json::value c = SimState().at("containers").at(0);
  EXPECT_EQ(c.at("createCalls").as_int64(), 1);
  EXPECT_EQ(c.at("node").as_string(), "pve2");
  Status taken = Run(pve_->Clone(ctx_, "pve1", 9000, "pve1", 101, "creative")).status();
  EXPECT_EQ(taken.code(), Code::kFailedPrecondition);
  EXPECT_NE(taken.message().find("used by 'survival'"), std::string::npos);
}

// For a moment after a clone Proxmox lists the guest without its name, status "unknown" (its
// status cache is behind: SimProxmoxTest.AGuestJustMadeIsListedNamelessForAMoment). Guests()
// names it from its config, so a retried clone and the guarded destroy still know it as ours,
// and the power state comes from the node.
TEST_F(ProxmoxActivityTest, AGuestTheStatusCacheIsBehindOnIsNamedFromItsConfig) {
  ASSERT_TRUE(Run(pve_->Clone(ctx_, "pve1", 9000, "pve1", 101, "survival")).ok());
  auto guests = Run(pve_->Guests());
  ASSERT_TRUE(guests.ok());
  auto ours = std::find_if(guests->begin(), guests->end(), [](const Guest& g) { return g.vmid == 101; });
  ASSERT_NE(ours, guests->end());
  EXPECT_EQ(ours->status, "unknown") << "the listing caught up already: this tests nothing";
  EXPECT_EQ(ours->name, "survival");
  EXPECT_EQ(*Run(pve_->PowerState("pve1", 101)), "stopped");
  ASSERT_TRUE(Run(pve_->Clone(ctx_, "pve1", 9000, "pve1", 101, "survival")).ok());
  EXPECT_EQ(Run(pve_->Clone(ctx_, "pve1", 9000, "pve1", 101, "creative")).status().code(),
            Code::kFailedPrecondition);
  ASSERT_TRUE(Run(pve_->Destroy(ctx_, "pve1", 101, "survival")).ok());
  EXPECT_TRUE(SimState().at("containers").as_array().empty());
}

TEST_F(ProxmoxActivityTest, PowerAndState) {
  ASSERT_TRUE(Run(pve_->Clone(ctx_, "pve1", 9000, "pve1", 101, "survival")).ok());
  EXPECT_EQ(*Run(pve_->PowerState("pve1", 101)), "stopped");
  ASSERT_TRUE(Run(pve_->Start(ctx_, "pve1", 101)).ok());
  EXPECT_EQ(*Run(pve_->PowerState("pve1", 101)), "running");
  ASSERT_TRUE(Run(pve_->Stop(ctx_, "pve1", 101)).ok());
  EXPECT_EQ(*Run(pve_->PowerState("pve1", 101)), "stopped");
  EXPECT_EQ(Run(pve_->PowerState("pve1", 555)).status().code(), Code::kNotFound);
  auto nodes = Run(pve_->Nodes());
  ASSERT_TRUE(nodes.ok());
  EXPECT_EQ(nodes->size(), 2u);
}

TEST_F(ProxmoxActivityTest, DestroyIsGuardedAndIdempotent) {
  ASSERT_EQ(SimPost("/sim/containers", R"({"vmid":105,"node":"pve1","hostname":"foreign"})"), 201);
  Status refused = Run(pve_->Destroy(ctx_, "pve1", 105, "survival"));
  EXPECT_EQ(refused.code(), Code::kFailedPrecondition);
  EXPECT_EQ(SimState().at("containers").as_array().size(), 1u);  // not ours: untouched
  ASSERT_TRUE(Run(pve_->Clone(ctx_, "pve1", 9000, "pve1", 101, "survival")).ok());
  ASSERT_TRUE(Run(pve_->Destroy(ctx_, "pve1", 101, "survival")).ok());
  ASSERT_TRUE(Run(pve_->Destroy(ctx_, "pve1", 101, "survival")).ok());  // already gone: success
  EXPECT_EQ(SimState().at("containers").as_array().size(), 1u);
}

TEST_F(ProxmoxActivityTest, FencingTokenGoesOutAndAStaleOneIsRefused) {
  CallContext fresh{"wf:2", 9}, stale{"wf:3", 8};
  ASSERT_TRUE(Run(pve_->Clone(fresh, "pve1", 9000, "pve1", 101, "survival")).ok());
  Status s = Run(pve_->Start(stale, "pve1", 101));
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);  // not retried: the node lost its lease
  json::value m = SimState().at("mutations");
  EXPECT_EQ(m.at(0).at("fencingToken").as_int64(), 9);
  EXPECT_TRUE(m.at(1).at("rejected").as_bool());
}

TEST_F(ProxmoxActivityTest, FailuresAreClassifiedForRetries) {
  ASSERT_EQ(SimPost("/sim/faults", R"({"call":"proxmox.start","mode":"error","status":503})"), 200);
  ASSERT_TRUE(Run(pve_->Clone(ctx_, "pve1", 9000, "pve1", 101, "survival")).ok());
  EXPECT_EQ(Run(pve_->Start(ctx_, "pve1", 101)).code(), Code::kUnavailable);  // retryable
  ASSERT_EQ(SimPost("/sim/faults", R"({"call":"proxmox.start","mode":"timeout","latencyMs":5000})"), 200);
  EXPECT_EQ(Run(pve_->Start(ctx_, "pve1", 101)).code(), Code::kDeadlineExceeded);
  EXPECT_TRUE(Run(pve_->Start(ctx_, "pve1", 101)).ok());  // the faults are used up
}

// A locked container (a backup holds it) is a failure a retry fixes: kUnavailable with
// Proxmox's message, whether Proxmox refuses the request (a config PUT) or the task (a start).
TEST_F(ProxmoxActivityTest, ALockIsRetriedNotPermanent) {
  ASSERT_TRUE(Run(pve_->Clone(ctx_, "pve1", 9000, "pve1", 101, "survival")).ok());
  ASSERT_EQ(SimPost("/sim/faults", R"({"lock":"backup","vmid":101})"), 200);
  Status put = Run(pve_->SetConfig(ctx_, "pve1", 101, {{"cores", "2"}}));
  EXPECT_EQ(put.code(), Code::kUnavailable);
  EXPECT_NE(put.message().find("HTTP 500 CT is locked (backup)"), std::string::npos)
      << put.ToString();
  Status start = Run(pve_->Start(ctx_, "pve1", 101));
  EXPECT_EQ(start.code(), Code::kUnavailable);
  EXPECT_NE(
      start.message().find("proxmox task vzstart of 101 on pve1 failed: CT is locked (backup)"),
      std::string::npos)
      << start.ToString();
  ASSERT_EQ(SimPost("/sim/faults", R"({"lock":"backup","vmid":101,"clear":true})"), 200);
  EXPECT_TRUE(Run(pve_->SetConfig(ctx_, "pve1", 101, {{"cores", "2"}})).ok());
  EXPECT_TRUE(Run(pve_->Start(ctx_, "pve1", 101)).ok());
}

TEST_F(ProxmoxActivityTest, AFailedTaskNamesTheTaskAndItsExitStatus) {
  ASSERT_TRUE(Run(pve_->Clone(ctx_, "pve1", 9000, "pve1", 101, "survival")).ok());
  ASSERT_EQ(
      SimPost(
          "/sim/faults",
          R"({"call":"proxmox.resize","mode":"taskFailed","exitstatus":"zfs error: out of space"})"),
      200);
  Status s = Run(pve_->ResizeRootfs(ctx_, "pve1", 101, 20));
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find(
                "proxmox task resize of 101 on pve1 failed: zfs error: out of space (UPID:pve1:"),
            std::string::npos)
      << s.ToString();
  EXPECT_EQ(SimState().at("containers").at(0).at("diskGb").as_int64(), 8);  // not grown
  EXPECT_TRUE(Run(pve_->ResizeRootfs(ctx_, "pve1", 101, 20)).ok());
}

TEST_F(ProxmoxActivityTest, ARefusedParameterIsPermanentAndNamed) {
  ASSERT_TRUE(Run(pve_->Clone(ctx_, "pve1", 9000, "pve1", 101, "survival")).ok());
  Status s = Run(pve_->SetConfig(ctx_, "pve1", 101, {{"cores", "two"}, {"memory", "8"}}));
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("HTTP 400 bad parameters: cores: type check ('integer') failed - got "
                             "'two'; memory: value must have a minimum value of 16"),
            std::string::npos)
      << s.ToString();
  EXPECT_EQ(SimState().at("containers").at(0).at("cores").as_int64(), 1);  // nothing changed
}

// Proxmox refuses to start a running container, stop a stopped one or resize a disk to its size;
// the adapter takes each as done, so a retry after a lost answer succeeds.
TEST_F(ProxmoxActivityTest, WhatIsAlreadySoIsSuccess) {
  ASSERT_TRUE(Run(pve_->Clone(ctx_, "pve1", 9000, "pve1", 101, "survival")).ok());
  EXPECT_TRUE(Run(pve_->Stop(ctx_, "pve1", 101)).ok());
  EXPECT_TRUE(Run(pve_->Start(ctx_, "pve1", 101)).ok());
  EXPECT_TRUE(Run(pve_->Start(ctx_, "pve1", 101)).ok());
  EXPECT_EQ(*Run(pve_->PowerState("pve1", 101)), "running");
  EXPECT_TRUE(Run(pve_->ResizeRootfs(ctx_, "pve1", 101, 20)).ok());
  EXPECT_TRUE(Run(pve_->ResizeRootfs(ctx_, "pve1", 101, 20)).ok());
  EXPECT_EQ(SimState().at("containers").at(0).at("diskGb").as_int64(), 20);
}

TEST_F(ProxmoxActivityTest, InterfacesShowTheDhcpLeaseOnceRunning) {
  ASSERT_TRUE(Run(pve_->Clone(ctx_, "pve1", 9000, "pve1", 101, "survival")).ok());
  ASSERT_TRUE(Run(pve_->SetConfig(ctx_, "pve1", 101,
                                  {{"net0", "name=eth0,bridge=vmbr1,ip=dhcp,firewall=1"}}))
                  .ok());
  auto stopped = Run(pve_->Interfaces("pve1", 101));
  ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
  EXPECT_TRUE(stopped->empty());
  ASSERT_TRUE(Run(pve_->Start(ctx_, "pve1", 101)).ok());
  auto running = Run(pve_->Interfaces("pve1", 101));
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  ASSERT_EQ(running->size(), 2u);
  EXPECT_EQ((*running)[0].name, "lo");
  EXPECT_EQ((*running)[1].name, "eth0");
  EXPECT_EQ((*running)[1].inet, "127.2.0.10/16");
  EXPECT_EQ((*running)[1].hwaddr.rfind("bc:24:11:", 0), 0u);
  EXPECT_EQ(Run(pve_->Interfaces("pve1", 555)).status().code(), Code::kUnavailable);
}

TEST_F(ProxmoxActivityTest, NoAnswerIsUnavailable) {
  ProxmoxOptions o;
  o.base_url = "http://127.0.0.1:1";  // nothing listens there
  o.token = "x";
  ProxmoxHypervisor nowhere(http_, o);
  EXPECT_EQ(Run(nowhere.Nodes()).status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace zlh::activities
