// zlhd's workflow and admin routes end to end (SPEC §7.1): list with paging and filters, history,
// cancel, signals, retry (409 once compensated), repair approval, maintenance, the journal backup,
// and the billing webhook (signatures, replays, the 402 it leads to, and what it tells
// #alerts-billing: a failed payment, a burst of bad signatures).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "api/admin_api.h"
#include "base/clock.h"
#include "tests/zlhd_fleet.h"

namespace zlh {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

class ZlhdAdminTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(z_.Start()); }

  Fetched Admin(const std::string& method, const std::string& path, const std::string& body = "") {
    return z_.Api(method, path, body, true);
  }
  std::string Provisioned(const std::string& customer, const std::string& name) {
    json::object a = z_.Body(z_.Create(customer, "n-" + name, name));
    EXPECT_EQ(z_.AwaitWorkflow(std::string(a["workflowId"].as_string())), "completed");
    return std::string(a["serverId"].as_string());
  }
  std::string Operate(const std::string& server, const std::string& op, const std::string& nonce) {
    Fetched f = z_.Api("POST", "/api/servers/" + server + "/operations",
                       R"({"customerId":"c-1","op":")" + op + R"(","requestNonce":")" + nonce + "\"}");
    EXPECT_EQ(f.status, 202) << f.body;
    return std::string(z_.Body(f)["workflowId"].as_string());
  }
  Fetched Webhook(const std::string& body, int64_t skew_seconds = 0, std::string secret = "") {
    if (secret.empty()) secret = z_.webhook_secret();
    return Fetch("POST", "http://" + z_.addr() + "/api/billing/webhook", body,
                 {"Content-Type: application/json",
                  "X-ZLH-Signature: " + api::SignWebhook(body, secret, NowMs() / 1000 + skew_seconds)});
  }
  // How many events of zlh-journal's export of the daemon's journal mention `text` (one a line).
  int ExportedLinesWith(const std::string& text) {
    std::string command = std::string(ZLH_JOURNAL) + " --data " + z_.data() + " export 2>/dev/null";
    FILE* out = popen(command.c_str(), "r");
    if (!out) return -1;
    int lines = 0;
    std::string line;
    for (int c; (c = std::fgetc(out)) != EOF;) {
      if (c != '\n') {
        line.push_back(static_cast<char>(c));
        continue;
      }
      lines += line.find(text) != std::string::npos;
      line.clear();
    }
    return pclose(out) == 0 ? lines : -1;
  }
  int JournalTool(const std::string& args) {
    int rc = std::system((std::string(ZLH_JOURNAL) + " " + args + " > /dev/null 2>&1").c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }

  TempDir tmp_;
  ZlhdOnSim z_{tmp_, kFastConfig};
};

TEST_F(ZlhdAdminTest, ListPagesNewestFirstWithFiltersAndHistoryShowsEveryEvent) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    json::object a = z_.Body(z_.Create("c-" + std::to_string(i), "n", "srv" + std::to_string(i)));
    ids.push_back(std::string(a["workflowId"].as_string()));
  }
  for (const auto& id : ids) z_.AwaitWorkflow(id);
  std::vector<std::string> seen;
  std::string after;
  for (int page = 0; page < 5; ++page) {
    Fetched f = Admin("GET", "/api/workflows?type=provision&status=completed&limit=2" +
                                 (after.empty() ? "" : "&after=" + after));
    ASSERT_EQ(f.status, 200) << f.body;
    json::object b = z_.Body(f);
    for (const auto& w : b["workflows"].as_array()) seen.emplace_back(w.at("workflowId").as_string());
    if (!b.contains("next")) break;
    after = std::string(b["next"].as_string());
  }
  EXPECT_EQ(seen, std::vector<std::string>(ids.rbegin(), ids.rend()));
  EXPECT_EQ(z_.Body(Admin("GET", "/api/workflows?status=failed"))["workflows"].as_array().size(), 0u);
  EXPECT_EQ(Admin("GET", "/api/workflows?status=nonsense").status, 400);
  EXPECT_EQ(Admin("GET", "/api/workflows?limit=0").status, 400);
  EXPECT_EQ(z_.Api("GET", "/api/workflows").status, 403);  // the Portal may not list

  json::object h = z_.Body(Admin("GET", "/api/workflows/" + ids[0] + "/history"));
  json::array events = h["events"].as_array();
  ASSERT_GE(events.size(), 10u);
  EXPECT_EQ(events[0].at("seq").as_int64(), 1);  // a number, not a string
  EXPECT_TRUE(events[0].as_object().contains("workflowStarted"));
  EXPECT_TRUE(events.back().as_object().contains("workflowCompleted"));
  EXPECT_EQ(Admin("GET", "/api/workflows/NOPE/history").status, 404);
}

TEST_F(ZlhdAdminTest, CancelSignalRetryAndApprove) {
  std::string server = Provisioned("c-1", "alpha");
  // A restore with no backup fails without compensating: retry resumes it once there is one.
  std::string restore = Operate(server, "restore", "r1");
  EXPECT_EQ(z_.AwaitWorkflow(restore), "failed");
  EXPECT_EQ(z_.AwaitWorkflow(Operate(server, "backup", "b1")), "completed");
  Fetched retry = Admin("POST", "/api/workflows/" + restore + "/retry");
  EXPECT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(z_.AwaitWorkflow(restore), "completed");
  EXPECT_EQ(Admin("POST", "/api/workflows/" + restore + "/retry").status, 409);  // not failed

  // A compensated provisioning cannot be retried.
  ASSERT_EQ(z_.SimPost("/sim/faults", R"({"call": "agent.install", "mode": "error", "count": 1, "status": 400})"), 200);
  std::string doomed(z_.Body(z_.Create("c-2", "n", "doomed"))["workflowId"].as_string());
  EXPECT_EQ(z_.AwaitWorkflow(doomed), "failed");
  Fetched refused = Admin("POST", "/api/workflows/" + doomed + "/retry");
  EXPECT_EQ(refused.status, 409);
  EXPECT_NE(refused.body.find("compensated"), std::string::npos) << refused.body;

  // Signals and cancels of ended or unknown workflows.
  EXPECT_EQ(Admin("POST", "/api/workflows/" + doomed + "/signals/go", "{}").status, 409);
  EXPECT_EQ(Admin("POST", "/api/workflows/NOPE/signals/go", "{}").status, 404);
  EXPECT_EQ(Admin("POST", "/api/workflows/NOPE/cancel").status, 404);
  EXPECT_EQ(Admin("POST", "/api/workflows/" + doomed + "/cancel").status, 409);
  EXPECT_EQ(Admin("POST", "/api/workflows/" + doomed + "/signals/go", "{bad").status, 400);
  EXPECT_EQ(z_.Api("POST", "/api/workflows/" + doomed + "/cancel").status, 403);

  // Cancel a provisioning held at the readiness gate: compensated, its VMID released.
  ASSERT_EQ(z_.SimPost("/sim/faults", R"({"call": "agent.health", "mode": "error", "count": 1000, "status": 503})"), 200);
  json::object slow = z_.Body(z_.Create("c-3", "n", "slow"));
  std::string slow_id(slow["workflowId"].as_string());
  auto until = std::chrono::steady_clock::now() + 30s;
  while (z_.Body(Admin("GET", "/api/workflows/" + slow_id))["steps"].as_array().size() < 4 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
  }
  Fetched cancel = Admin("POST", "/api/workflows/" + slow_id + "/cancel", R"({"reason":"operator"})");
  EXPECT_EQ(cancel.status, 200) << cancel.body;
  EXPECT_EQ(z_.AwaitWorkflow(slow_id), "cancelled");
  json::object s = z_.Body(z_.Api("GET", "/api/servers/" + std::string(slow["serverId"].as_string()) +
                                          "?customerId=c-3"));
  EXPECT_EQ(s["status"].as_string(), "failed");
  EXPECT_EQ(s["vmid"].as_int64(), 0);

  // Only a repair waiting for approval can be approved.
  EXPECT_EQ(Admin("POST", "/api/repairs/" + restore + "/approve").status, 404);
  EXPECT_EQ(Admin("POST", "/api/repairs/NOPE/approve").status, 404);
}

TEST_F(ZlhdAdminTest, MaintenanceIsRecordedOnASystemStream) {
  std::string server = Provisioned("c-1", "alpha");
  Fetched on = Admin("PUT", "/api/servers/" + server + "/maintenance", R"({"on":true,"reason":"disk swap"})");
  EXPECT_EQ(on.status, 200) << on.body;
  EXPECT_EQ(z_.Body(on)["on"].as_bool(), true);
  EXPECT_EQ(Admin("PUT", "/api/servers/" + server + "/maintenance", R"({"on":"yes"})").status, 400);
  EXPECT_EQ(Admin("PUT", "/api/servers/" + server + "/maintenance", R"({"reason":"x"})").status, 400);
  EXPECT_EQ(Admin("PUT", "/api/servers/NOPE/maintenance", R"({"on":true})").status, 404);
  EXPECT_EQ(z_.Api("PUT", "/api/servers/" + server + "/maintenance", R"({"on":true})").status, 403);
  EXPECT_EQ(Admin("PUT", "/api/servers/" + server + "/maintenance", R"({"on":false})").status, 200);
  // Two inputs on the server's system stream, gap-free: verify passes; export shows them.
  EXPECT_EQ(JournalTool("--data " + z_.data() + " verify"), 0);
  int rc = std::system((std::string(ZLH_JOURNAL) + " --data " + z_.data() + " export | grep -c '\"maintenance\"' | grep -qx 2").c_str());
  EXPECT_EQ(rc, 0);
}

TEST_F(ZlhdAdminTest, BackupWritesACheckpointThatOpensAsAJournal) {
  Provisioned("c-1", "alpha");
  // Under the backup root (default DATA/backups) only: a new directory, named relative to it or
  // absolutely inside it.
  std::string dir = std::filesystem::canonical(z_.data()).string() + "/backups/backup-1";
  Fetched b = Admin("POST", "/api/admin/backup", R"({"dir":"backup-1"})");
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_EQ(z_.Body(b)["path"].as_string(), dir);
  EXPECT_EQ(Admin("POST", "/api/admin/backup", json::serialize(json::object{{"dir", dir}})).status, 400);
  EXPECT_EQ(Admin("POST", "/api/admin/backup", R"({"dir":"missing-parent/x"})").status, 400);
  EXPECT_EQ(Admin("POST", "/api/admin/backup", R"({"dir":"../escape"})").status, 400);
  Fetched outside = Admin("POST", "/api/admin/backup",
                          json::serialize(json::object{{"dir", tmp_.Sub("outside")}}));
  EXPECT_EQ(outside.status, 400) << outside.body;
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("outside")));
  EXPECT_EQ(z_.Api("POST", "/api/admin/backup", R"({"dir":"x"})").status, 403);
  // The backup is a data directory of its own: its journal passes verify, and the tokens file is
  // there, the daemon's own, readable by its owner only.
  EXPECT_EQ(JournalTool("--data " + dir + " verify"), 0);
  EXPECT_EQ(JournalTool("--data " + dir + " list"), 0);
  EXPECT_EQ(ReadFile(dir + "/tokens"), ReadFile(z_.data() + "/tokens"));
  EXPECT_EQ(std::filesystem::status(dir + "/tokens").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(ZlhdAdminTest, BillingWebhookIsSignedIdempotentAndGatesCreates) {
  std::string suspended = R"({"id":"evt_1","type":"customer.suspended","customerId":"c-9","createdAt":"2026-11-27T10:00:00Z"})";
  EXPECT_EQ(Webhook(suspended, 0, "not-the-secret-0123456789").status, 401);
  EXPECT_EQ(Webhook(suspended, -400).status, 401);  // stale
  EXPECT_EQ(Fetch("POST", "http://" + z_.addr() + "/api/billing/webhook", suspended,
                  {"Content-Type: application/json"}).status, 401);
  Fetched first = Webhook(suspended);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(z_.Body(first)["applied"].as_bool(), true);
  Fetched replay = Webhook(suspended);
  EXPECT_EQ(replay.status, 200);
  EXPECT_EQ(z_.Body(replay)["applied"].as_bool(), false);
  EXPECT_EQ(Webhook(R"({"id":"evt_2","type":"customer.exploded","customerId":"c-9","createdAt":"x"})").status, 400);
  EXPECT_EQ(Webhook(R"({"id":"evt_3","type":"invoice.paid","customerId":"c-9"})").status, 400);

  Fetched refused = z_.Create("c-9", "n1", "alpha");
  EXPECT_EQ(refused.status, 402) << refused.body;
  EXPECT_NE(refused.body.find("billing_suspended"), std::string::npos);
  ASSERT_EQ(Webhook(R"({"id":"evt_4","type":"customer.reactivated","customerId":"c-9","createdAt":"2026-11-27T11:00:00Z"})").status, 200);
  EXPECT_EQ(z_.Create("c-9", "n1", "alpha").status, 202);
  EXPECT_EQ(JournalTool("--data " + z_.data() + " verify"), 0);
}

// A failed invoice payment pings #alerts-billing naming the customer, once however often the
// event is delivered (SPEC §10).
TEST_F(ZlhdAdminTest, APaymentFailedWebhookPingsAlertsBillingOnce) {
  std::string failed =
      R"({"id":"evt_pf","type":"invoice.payment_failed","customerId":"c-9","createdAt":"2026-11-27T10:00:00Z"})";
  Fetched first = Webhook(failed);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_TRUE(z_.Body(first)["applied"].as_bool());
  ASSERT_TRUE(z_.AwaitDelivered());  // the answer came after the write that recorded the message
  std::vector<json::object> told = z_.Messages("alerts-billing");
  ASSERT_EQ(told.size(), 1u);
  EXPECT_TRUE(told[0]["ping"].as_bool());
  std::string content(told[0]["content"].as_string());
  EXPECT_NE(content.find("payment failed for customer c-9"), std::string::npos) << content;
  EXPECT_NE(content.find("evt_pf"), std::string::npos) << content;

  Fetched again = Webhook(failed);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_FALSE(z_.Body(again)["applied"].as_bool());
  ASSERT_TRUE(z_.AwaitDelivered());
  EXPECT_EQ(z_.Messages("alerts-billing").size(), 1u);
}

// Five bad signatures in a row: one ping on #alerts-billing for the burst, and none of the refused
// requests recorded anything.
TEST_F(ZlhdAdminTest, ABurstOfBadSignaturesAlertsOnce) {
  std::string probe =
      R"({"id":"evt_probe","type":"customer.suspended","customerId":"c-7","createdAt":"2026-11-27T10:00:00Z"})";
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Webhook(probe, 0, "not-the-secret-0123456789-" + std::to_string(i)).status, 401);
  }
  // A signed event after them: its write is durable only once the burst's alert, queued before
  // it, is too, so what the outbox then delivers is all the bad signatures caused.
  std::string after =
      R"({"id":"evt_after","type":"invoice.paid","customerId":"c-8","createdAt":"2026-11-27T10:00:00Z"})";
  ASSERT_EQ(Webhook(after).status, 200);
  ASSERT_TRUE(z_.AwaitDelivered());
  std::vector<json::object> told = z_.Messages("alerts-billing");
  ASSERT_EQ(told.size(), 1u);
  EXPECT_TRUE(told[0]["ping"].as_bool());
  std::string content(told[0]["content"].as_string());
  EXPECT_NE(content.find("3 bad signatures on the billing webhook since"), std::string::npos)
      << content;
  EXPECT_NE(content.find("webhook secret may be wrong"), std::string::npos) << content;

  // The journal holds the signed event (on c-8's billing stream) and nothing of the refused ones;
  // c-7 is not suspended.
  EXPECT_EQ(ExportedLinesWith(R"("stream":"sys.billing.c-8")"), 1);
  EXPECT_EQ(ExportedLinesWith(R"("stream":"sys.billing.c-7")"), 0);
  EXPECT_EQ(z_.Create("c-7", "n1", "seven").status, 202);
}

// A provisioning cancelled while it waits in its queue never ran: its server is failed at once,
// its name and quota slot free again.
TEST_F(ZlhdAdminTest, AProvisioningCancelledInItsQueueFailsItsServer) {
  // The agent never gets ready: the four provision slots stay taken at the readiness gate.
  ASSERT_EQ(z_.SimPost("/sim/faults", R"({"call": "agent.health", "mode": "error", "count": 100000, "status": 503})"), 200);
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(z_.Create("c-" + std::to_string(i), "n", "busy" + std::to_string(i)).status, 202);
  }
  json::object queued = z_.Body(z_.Create("c-9", "n", "waiting"));
  std::string id(queued["workflowId"].as_string());
  EXPECT_EQ(z_.Body(Admin("GET", "/api/workflows/" + id))["waitingFor"].at("kind").as_string(), "queue");
  ASSERT_EQ(Admin("POST", "/api/workflows/" + id + "/cancel").status, 200);
  EXPECT_EQ(z_.AwaitWorkflow(id), "cancelled");
  json::object s = z_.Body(z_.Api("GET", "/api/servers/" + std::string(queued["serverId"].as_string()) +
                                           "?customerId=c-9"));
  EXPECT_EQ(s["status"].as_string(), "failed");
  EXPECT_EQ(z_.Create("c-9", "n2", "waiting").status, 202);  // the name is free again
  EXPECT_EQ(JournalTool("--data " + z_.data() + " verify"), 0);
}

// Without Redis the node is its own singleton (it holds the journal): it says so.
TEST_F(ZlhdAdminTest, ControllerStatusHasTheShapeOfSpec71) {
  Fetched f = Admin("GET", "/api/controller");
  ASSERT_EQ(f.status, 200) << f.body;
  json::object c = z_.Body(f);
  for (const char* field : {"leader", "fencingToken", "lockTtlMs", "lastTickAt", "actingSince",
                            "redis", "breakers", "lastDecisions"}) {
    EXPECT_TRUE(c.contains(field)) << field << " missing: " << f.body;
  }
  EXPECT_EQ(c["redis"].as_string(), "off");
  EXPECT_TRUE(c["leader"].as_bool());
  EXPECT_TRUE(c["breakers"].is_array());
  EXPECT_EQ(z_.Api("GET", "/api/controller").status, 403);
}

// zlh-journal's operator actions go to the daemon, with the exit codes of SPEC §7.3.
TEST_F(ZlhdAdminTest, ZlhJournalActsThroughTheDaemon) {
  std::string server = Provisioned("c-1", "alpha");
  std::string restore = Operate(server, "restore", "r1");
  ASSERT_EQ(z_.AwaitWorkflow(restore), "failed");  // no backup yet
  std::string daemon = "--server http://" + z_.addr() + " --token-file " + z_.data() + "/tokens";
  EXPECT_EQ(JournalTool(daemon + " retry NOPE"), 1);           // refused: unknown id
  EXPECT_EQ(JournalTool(daemon + " cancel " + restore + " --reason test"), 1);  // it has ended
  EXPECT_EQ(JournalTool(daemon + " signal " + restore + " go '{bad'"), 2);      // not JSON
  EXPECT_EQ(JournalTool(daemon + " approve " + restore), 1);   // not a repair
  EXPECT_EQ(JournalTool("retry " + restore), 2);               // no --server
  EXPECT_EQ(JournalTool("--server http://127.0.0.1:1 --token-file " + z_.data() + "/tokens retry " +
                        restore),
            4);  // nobody listens there
  EXPECT_EQ(JournalTool("--server http://" + z_.addr() + " --token-file /nonexistent retry x"), 2);
  ASSERT_EQ(z_.AwaitWorkflow(Operate(server, "backup", "b1")), "completed");
  EXPECT_EQ(JournalTool(daemon + " retry " + restore), 0);
  EXPECT_EQ(z_.AwaitWorkflow(restore), "completed");
  // A backup through the daemon, while it runs, that opens as a journal.
  // Under the daemon's backup root (DATA/backups).
  EXPECT_EQ(JournalTool(daemon + " backup daemon-backup"), 0);
  EXPECT_EQ(JournalTool("--data " + z_.data() + "/backups/daemon-backup verify"), 0);
}

// A restore cut short by a crash is not run again by an operator's retry unless they force it
// (through the route and through zlh-journal).
TEST_F(ZlhdAdminTest, RetryOverAnInterruptedRestoreNeedsForce) {
  std::string server = Provisioned("c-1", "alpha");
  ASSERT_EQ(z_.AwaitWorkflow(Operate(server, "backup", "b1")), "completed");
  ASSERT_EQ(z_.SimPost("/sim/faults", R"({"call": "backup.restore", "mode": "latency", "count": 1, "latencyMs": 60000})"), 200);
  std::string restore = Operate(server, "restore", "r1");
  // The restore's call has reached the fleet (which holds its answer back): the step has acted.
  auto restoring = [&] {
    json::object state = z_.SimState();
    for (const auto& m : state["mutations"].as_array()) {
      if (m.at("call") == "backup.restore") return true;
    }
    return false;
  };
  auto until = std::chrono::steady_clock::now() + 30s;
  while (!restoring() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(restoring());
  z_.Kill();
  ASSERT_TRUE(z_.Start());
  ASSERT_EQ(z_.AwaitWorkflow(restore), "failed");

  Fetched refused = Admin("POST", "/api/workflows/" + restore + "/retry");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("'restore_backup'"), std::string::npos) << refused.body;
  std::string daemon = "--server http://" + z_.addr() + " --token-file " + z_.data() + "/tokens";
  EXPECT_EQ(JournalTool(daemon + " retry " + restore), 1);
  EXPECT_EQ(JournalTool(daemon + " retry " + restore + " --force"), 0);
  EXPECT_EQ(z_.AwaitWorkflow(restore), "completed") << Admin("GET", "/api/workflows/" + restore).body;
}

}  // namespace
}  // namespace zlh
