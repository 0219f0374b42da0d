// The notification outbox in zlhd, end to end (SPEC §10): its dispatcher delivers what the journal
// holds to zlh-sim's Discord, GET /api/notifications lists the entries by status (paged, admin
// only), GET /api/controller says what waits and what fails, and /metrics has the outbox series.
// A SIGKILL during a post is found at the next start, counted, and the post sent again. The test
// writes the entries into zlhd's journal before it starts, as a workflow's write does, so that it
// knows each one (its zlhd has no servers: its ticks record none).
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <iterator>
#include <string>
#include <vector>

#include "activities/notifier_discord.h"
#include "base/clock.h"
#include "fleet/outbox.h"
#include "journal/journal.h"
#include "tests/eventually.h"
#include "tests/loopback_port.h"
#include "tests/zlhd_fleet.h"

namespace zlh {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// Fast retries; #alerts-repairs' webhook on a port where nothing listens (Discord unreachable).
std::string OutboxConfig() {
  return R"({"timing": {"readinessProbeInterval": "50ms", "leaseHeartbeatInterval": "100ms"},
             "controller": {"digestAt": "off"},
             "notify": {"initialBackoff": "50ms", "maxBackoff": "200ms", "attemptTimeout": "5s"},
             "discord": {"webhooks": {"alerts-repairs": "http://127.0.0.1:)" +
         std::to_string(FreeLoopbackPort()) + R"(/api/webhooks/alerts-repairs/sim"}}})";
}

class NotificationApiTest : public ::testing::Test {
 protected:
  // Records notifications in zlhd's journal (zlhd not running), oldest first; their ids.
  std::vector<uint64_t> Record(const std::vector<std::pair<std::string, std::string>>& messages,
                               bool ping = false) {
    std::filesystem::create_directories(z_.data());
    auto j = journal::Journal::Open(z_.data() + "/journal");
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    std::vector<uint64_t> ids;
    for (const auto& [channel, text] : messages) {
      fleet::Intent intent;
      intent.key = "wf-" + std::to_string(ids.size() + 1) + ":notify";
      intent.channel = channel;
      intent.content = text;
      intent.ping = ping;
      intent.source = "wf-" + std::to_string(ids.size() + 1);
      Status s = (*j)->AppendSync({}, [&](journal::Txn& t) -> Status {
        auto id = fleet::EnqueueNotification(t, intent, NowMs());
        if (id.ok()) ids.push_back(*id);
        return id.status();
      });
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    return ids;
  }
  Fetched Admin(const std::string& path) { return z_.Api("GET", path, "", true); }
  json::array Listed(const std::string& query) {
    Fetched f = Admin("/api/notifications" + query);
    EXPECT_EQ(f.status, 200) << f.body;
    return z_.Body(f)["notifications"].as_array();
  }
  std::string Metrics() { return Fetch("GET", "http://" + z_.addr() + "/metrics").body; }

  TempDir tmp_;
  ZlhdOnSim z_{tmp_, OutboxConfig()};
};

TEST_F(NotificationApiTest, StatusesPagingRefusalsMetricsAndTheControllersOutbox) {
  ASSERT_EQ(z_.SimPost("/sim/faults", R"({"discordWebhookDeleted": "alerts-billing"})"), 200);
  std::vector<uint64_t> ids = Record({{"audit-log", "tick 1"},
                                      {"audit-log", "tick 2"},
                                      {"alerts-billing", "payment failed"},
                                      {"system-health", "digest"},
                                      {"audit-log", "tick 3"},
                                      {"alerts-repairs", "repaired mc-1"}});
  ASSERT_TRUE(z_.Start());
  ASSERT_TRUE(Eventually([&] { return Listed("?status=delivered").size() == 4; }, 30s));

  json::array failed = Listed("?status=failed");
  ASSERT_EQ(failed.size(), 1u);
  json::object refused = failed[0].as_object();
  EXPECT_EQ(refused["id"].to_number<uint64_t>(), ids[2]);  // a number
  EXPECT_EQ(refused["channel"].as_string(), "alerts-billing");
  EXPECT_EQ(refused["origin"].as_string(), "workflow");
  EXPECT_EQ(refused["source"].as_string(), "wf-3");
  EXPECT_TRUE(refused["recordedAt"].is_string());
  json::object discord = refused["deliveries"].at(0).as_object();
  EXPECT_EQ(discord["route"].as_string(), "discord:alerts-billing");
  EXPECT_EQ(discord["state"].as_string(), "failed");
  EXPECT_EQ(discord["attempts"].as_int64(), 1);
  EXPECT_EQ(discord["lastStatus"].as_int64(), 404);
  EXPECT_NE(std::string(discord["lastError"].as_string()).find("10015"), std::string::npos);
  EXPECT_TRUE(discord["doneAt"].is_string());
  EXPECT_TRUE(discord["nextTryAt"].is_null());

  json::array pending = Listed("?status=pending");
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].at("id").to_number<uint64_t>(), ids[5]);
  ASSERT_TRUE(Eventually([&] {
    json::array waiting = Listed("?status=pending");
    if (waiting.empty()) return false;
    json::object d = waiting[0].at("deliveries").at(0).as_object();
    return d["attempts"].as_int64() >= 2 && d["lastStatus"].as_int64() == 0;  // no answer
  }));

  // Newest first, two a page.
  std::vector<uint64_t> seen;
  json::value after = nullptr;
  for (int page = 0; page < 3; ++page) {
    std::string query = "?status=delivered&limit=2";
    if (!after.is_null()) query += "&after=" + std::to_string(after.to_number<uint64_t>());
    json::object body = z_.Body(Admin("/api/notifications" + query));
    for (const auto& n : body["notifications"].as_array())
      seen.push_back(n.at("id").to_number<uint64_t>());
    after = body["next"];
    if (after.is_null()) break;
  }
  EXPECT_EQ(seen, (std::vector<uint64_t>{ids[4], ids[3], ids[1], ids[0]}));
  EXPECT_EQ(Listed("?channel=audit-log").size(), 3u);
  EXPECT_EQ(Listed("").size(), 6u);

  Fetched bad = Admin("/api/notifications?status=lost");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("status"), std::string::npos) << bad.body;
  EXPECT_EQ(Admin("/api/notifications?after=abc").status, 400);
  EXPECT_EQ(Admin("/api/notifications?limit=0").status, 400);
  EXPECT_EQ(z_.Api("GET", "/api/notifications").status, 403);  // the Portal's token

  ASSERT_TRUE(Eventually([&] {
    json::object outbox = z_.Body(Admin("/api/controller"))["outbox"].as_object();
    json::array failing = outbox["failing"].as_array();
    return outbox["pending"].as_int64() == 1 && outbox["oldestAt"].is_string() &&
           failing.size() == 2 && failing[0].as_string() == "alerts-billing" &&
           failing[1].as_string() == "alerts-repairs";
  })) << z_.Body(Admin("/api/controller"))["outbox"];

  std::string metrics = Metrics();
  for (const char* line : {"zlh_outbox_pending{route=\"discord\",channel=\"alerts-repairs\"} 1\n",
                           "zlh_outbox_pending{route=\"discord\",channel=\"audit-log\"} 0\n",
                           "zlh_outbox_oldest_seconds{route=\"discord\",channel=\"audit-log\"} 0\n",
                           "zlh_outbox_delivered_total 4\n", "zlh_outbox_failed_total 1\n",
                           "zlh_outbox_interrupted_total 0\n",
                           "zlh_outbox_retries_total{route=\"discord\",channel=\"alerts-repairs\","
                           "reason=\"unavailable\"} "}) {
    EXPECT_NE(metrics.find(line), std::string::npos) << line << "\n" << metrics;
  }
  EXPECT_EQ(
      metrics.find("zlh_outbox_oldest_seconds{route=\"discord\",channel=\"alerts-repairs\"} 0\n"),
      std::string::npos)
      << "the waiting one has an age";
}

TEST_F(NotificationApiTest, AKillDuringAPostIsCountedAndThePostSentAgain) {
  // Shown at once, answered 3 s later: zlhd is killed in between.
  ASSERT_EQ(
      z_.SimPost("/sim/faults", R"({"call":"discord.post","mode":"latency","latencyMs":3000})"),
      200);
  std::vector<uint64_t> ids = Record({{"alerts-critical", "agent offline on mc-1"}}, true);
  ASSERT_TRUE(z_.Start());
  ASSERT_TRUE(Eventually([&] { return z_.Messages("alerts-critical").size() == 1; }, 30s));
  z_.Kill();
  ASSERT_TRUE(z_.Start());
  ASSERT_TRUE(Eventually([&] { return Listed("?status=delivered").size() == 1; }, 30s))
      << ReadFile(z_.log());
  json::object d = Listed("?status=delivered")[0].at("deliveries").at(0).as_object();
  EXPECT_EQ(d["attempts"].as_int64(), 2);
  EXPECT_EQ(d["interrupted"].as_int64(), 1);
  // Only this entry's posts: the channel may hold other alerts of zlhd's own.
  std::vector<json::object> all = z_.Messages("alerts-critical"), shown;
  std::string nonce = activities::DiscordNonce("wf-1:notify", 0);
  std::copy_if(all.begin(), all.end(), std::back_inserter(shown), [&](const json::object& m) {
    const json::value* n = m.if_contains("nonce");
    return n && n->is_string() && n->as_string() == nonce;
  });
  ASSERT_EQ(shown.size(), 2u) << "Discord's webhooks ignore the nonce: the cut post shows twice; "
                              << "the channel holds " << json::serialize(json::value_from(all));
  EXPECT_NE(Metrics().find("zlh_outbox_interrupted_total 1\n"), std::string::npos);
  EXPECT_NE(ReadFile(z_.log()).find("was cut by a restart: it may show twice"), std::string::npos);
}

}  // namespace
}  // namespace zlh
