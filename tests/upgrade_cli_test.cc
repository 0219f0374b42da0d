// Upgrading a node (SPEC §11, docs/operations.md "Upgrade"), with real processes: zlh-journal
// check-upgrade replays the journal's workflows with this build's code and lists the ones it cannot
// continue (exit 1); a build of a newer journal format (the test-only one, ZLHD_TEST_NEXT_FORMAT=1)
// refuses zlhd's journal (exit 3) and changes nothing until zlhd --migrate migrates it, after which
// this build refuses it as newer and the new build finishes the provisioning that was in flight.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <cstdlib>

#include "journal/journal.h"
#include "tests/eventually.h"
#include "tests/zlhd_fleet.h"
#include "workflows/engine.h"

namespace zlh {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using workflows::Context;
using workflows::StepInfo;
using workflows::Task;

constexpr char kConfig[] = R"({
  "timing": {"readinessProbeInterval": "50ms", "leaseHeartbeatInterval": "100ms",
             "leasePollInterval": "2s"},
  "proxmox": {"taskPollInterval": "10ms"},
  "controller": {"digestAt": "off"}
})";

struct Ran {
  int code = -1;
  std::string out, err;
};

// `command` (binary and arguments, no spaces in them) run by the shell; its exit code and output.
Ran Shell(const TempDir& tmp, const std::string& command) {
  std::string out = tmp.Sub("run.out"), err = tmp.Sub("run.err");
  int rc = std::system((command + " >" + out + " 2>" + err).c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ReadFile(out), ReadFile(err)};
}

// Writes into the (closed) journal in `dir` a workflow of `type` that other code started: its
// first step "check_quota", then a wait for a signal. Its id.
std::string AddForeignWorkflow(const std::string& dir, const std::string& type,
                               const std::string& input) {
  auto j = journal::Journal::Open(dir);
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  if (!j.ok()) return "";
  workflows::Registry registry;
  EXPECT_TRUE(registry
                  .Register(type, "provision",
                            [](Context& ctx) -> Task<Result<std::string>> {
                              auto r = co_await ctx.Step(
                                  "check_quota", [](const StepInfo&) -> Task<Result<std::string>> {
                                    co_return std::string("ok");
                                  });
                              if (!r.ok()) co_return r.status();
                              auto go = co_await ctx.WaitSignal("go", Millis(3'600'000));
                              if (!go.ok()) co_return go.status();
                              co_return std::string("done");
                            })
                  .ok());
  // Torn down as a process would be: the engine, then the journal (whose last callbacks post to
  // the io_context, which never runs them), then the io_context.
  boost::asio::io_context io;
  auto engine = std::make_unique<workflows::Engine>(io, **j, registry, workflows::EngineOptions{});
  auto run = [&io](auto task) {
    auto f = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
    while (f.wait_for(0s) != std::future_status::ready) io.run_one_for(10ms);
    return f.get();
  };
  auto started = run(engine->Start({type, input, ""}));
  EXPECT_TRUE(started.ok()) << started.status().ToString();
  std::string id = started.ok() ? started->id : "";
  auto until = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < until) {
    auto s = (*j)->ReadSummary(id);  // durably waiting, not only in memory
    if (s.ok() && s->has_value() && (*s)->status() == proto::WAITING) break;
    io.run_one_for(10ms);
  }
  run(engine->Drain(Millis(0)));
  engine.reset();
  j->reset();
  return id;
}

class UpgradeCliTest : public ::testing::Test {
 protected:
  void TearDown() override { unsetenv("ZLHD_TEST_NEXT_FORMAT"); }
  std::string JournalCmd(const std::string& args) const {
    return std::string(ZLH_JOURNAL) + " --data " + z_.data() + " " + args;
  }
  // zlhd with the test-only next journal format: the "new build".
  std::string NextZlhd(const std::string& args) const {
    return "ZLHD_TEST_NEXT_FORMAT=1 " + std::string(ZLHD) + " " + args;
  }
  json::object Workflow(const std::string& id) {
    return ZlhdOnSim::Body(z_.Api("GET", "/api/workflows/" + id, "", true));
  }
  // A provisioning held at the agent's readiness gate (the agent answers after ~40 probes), and
  // zlhd stopped under it.
  std::string SuspendedProvisioning() {
    EXPECT_TRUE(z_.Start());
    EXPECT_EQ(z_.SimPost("/sim/faults", R"({"call": "agent.health", "mode": "error",
                                            "status": 503, "count": 40})"),
              200);
    Fetched f = z_.Create("c-1", "n-1", "inflight");
    EXPECT_EQ(f.status, 202) << f.body;
    std::string id(ZlhdOnSim::Body(f)["workflowId"].as_string());
    EXPECT_TRUE(Eventually([&] {
      json::object w = Workflow(id);
      return w["status"] == "waiting";
    })) << json::serialize(Workflow(id));
    EXPECT_EQ(z_.Stop(), 0);
    return id;
  }

  TempDir tmp_;
  ZlhdOnSim z_{tmp_, kConfig};
};

TEST_F(UpgradeCliTest, CheckUpgradeListsTheWorkflowsThisBuildCannotContinue) {
  std::string inflight = SuspendedProvisioning();
  Ran clean = Shell(tmp_, JournalCmd("check-upgrade"));
  EXPECT_EQ(clean.code, 0) << clean.out << clean.err;
  EXPECT_NE(clean.out.find("ok: this build can continue all"), std::string::npos) << clean.out;

  // Workflows recorded by other code: a provisioning whose first step this build does not have,
  // and a type it does not register.
  std::string journal_dir = z_.data() + "/journal";
  std::string input;
  {
    auto j = journal::Journal::Open(journal_dir);
    ASSERT_TRUE(j.ok());
    input = (*j)->ReadEvents(inflight)->front().workflow_started().input();
  }
  std::string changed = AddForeignWorkflow(journal_dir, "provision", input);
  std::string dropped = AddForeignWorkflow(journal_dir, "legacy_import", "{}");
  ASSERT_FALSE(changed.empty());
  ASSERT_FALSE(dropped.empty());

  Ran flagged = Shell(tmp_, JournalCmd("check-upgrade"));
  EXPECT_EQ(flagged.code, 1) << flagged.out << flagged.err;
  EXPECT_NE(flagged.out.find(changed + "  provision  "), std::string::npos) << flagged.out;
  EXPECT_NE(flagged.out.find("'check_quota'"), std::string::npos) << flagged.out;
  EXPECT_NE(flagged.out.find(dropped + "  legacy_import  "), std::string::npos)
      << flagged.out;
  EXPECT_NE(flagged.out.find("which this build does not register"), std::string::npos)
      << flagged.out;
  EXPECT_EQ(flagged.out.find(inflight), std::string::npos) << flagged.out;
  EXPECT_NE(flagged.out.find("2 of "), std::string::npos) << flagged.out;

  Ran as_json = Shell(tmp_, JournalCmd("--json check-upgrade"));
  EXPECT_EQ(as_json.code, 1);
  json::object report = json::parse(as_json.out).as_object();
  EXPECT_EQ(report["ok"], false);
  ASSERT_EQ(report["blocked"].as_array().size(), 2u) << as_json.out;
  EXPECT_GE(report["checked"].as_int64(), 3);
  EXPECT_EQ(Shell(tmp_, JournalCmd("check-upgrade extra")).code, 2);
}

TEST_F(UpgradeCliTest, AnOlderJournalIsRefusedUntilMigratedThenItsProvisioningFinishes) {
  std::string id = SuspendedProvisioning();
  std::string start_args = "--config " + z_.config() + " --data " + z_.data() +
                           " --listen 127.0.0.1:0 --fleet " + z_.sim().url();

  // The new build refuses the journal as it is, and changes nothing.
  Ran refused = Shell(tmp_, NextZlhd(start_args));
  EXPECT_EQ(refused.code, 3) << refused.err;
  EXPECT_NE(refused.err.find("older format"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("has format 1, older than this build's (2)"), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("zlhd --migrate"), std::string::npos) << refused.err;
  Ran listed = Shell(tmp_, JournalCmd("list"));
  EXPECT_EQ(listed.code, 0) << listed.err;
  EXPECT_NE(listed.out.find(id), std::string::npos) << listed.out;

  Ran migrated = Shell(tmp_, NextZlhd("--data " + z_.data() + " --migrate"));
  ASSERT_EQ(migrated.code, 0) << migrated.out << migrated.err;
  EXPECT_NE(migrated.out.find("migrated: format 2 (tests only)"), std::string::npos)
      << migrated.out;
  EXPECT_NE(migrated.out.find("now has format 2"), std::string::npos) << migrated.out;
  Ran again = Shell(tmp_, NextZlhd("--data " + z_.data() + " --migrate"));
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("nothing to migrate"), std::string::npos) << again.out;

  // This build now finds it newer than itself, in zlh-journal and zlhd alike.
  Ran old_reader = Shell(tmp_, JournalCmd("list"));
  EXPECT_EQ(old_reader.code, 3);
  EXPECT_NE(old_reader.err.find("format 2, newer than this build supports (1)"),
            std::string::npos)
      << old_reader.err;
  Ran old_migrate = Shell(tmp_, std::string(ZLHD) + " --data " + z_.data() + " --migrate");
  EXPECT_EQ(old_migrate.code, 3) << old_migrate.err;
  Ran no_journal = Shell(tmp_, NextZlhd("--data " + tmp_.Sub("none") + " --migrate"));
  EXPECT_EQ(no_journal.code, 2) << no_journal.err;

  // The new build resumes the provisioning that was in flight and finishes it.
  setenv("ZLHD_TEST_NEXT_FORMAT", "1", 1);
  ASSERT_TRUE(z_.Start());
  EXPECT_EQ(z_.AwaitWorkflow(id, 120s), "completed");
}

}  // namespace
}  // namespace zlh
