// zlhd's reload by SIGHUP (SPEC §11), on real zlhd and zlh-sim processes: a token rotated without
// a restart (two valid per role while it rotates, the old one refused after) while a request
// authorized with the old token is in flight and a kept-alive connection stays open; a third
// token of a role, a bad config or a bad tokens file refused whole, the running ones kept and the
// log saying why; the billing webhook's secret followed; new Discord routes and business hours
// taking effect on the next repair; fields that only a restart applies logged and kept.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <vector>

#include "api/admin_api.h"
#include "base/clock.h"
#include "tests/eventually.h"
#include "tests/zlhd_fleet.h"

namespace zlh {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// Reconciles at the start only (then hourly), no digest, no scheduled backup: once the first
// reconcile is done, nothing but the test's own requests calls zlh-sim.
constexpr char kQuietConfig[] = R"({"controller": {"reconcileInterval": "1h", "digestAt": "off"},
                                     "backup": {"at": "off"}})";

constexpr char kNewAdmin[] = "admin-rotated-0123456789abcdef";
constexpr char kNewPortal[] = "portal-rotated-0123456789abcdef";

uint64_t FencingToken(const ZlhdOnSim& z, const std::string& admin_token) {
  return ZlhdOnSim::Body(z.ApiAs(admin_token, "GET", "/api/controller"))["fencingToken"]
      .to_number<uint64_t>();
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Waits until the reconcile the start fires has completed.
void AwaitFirstReconcile(const ZlhdOnSim& z) {
  ASSERT_TRUE(Eventually([&] {
    json::object page = ZlhdOnSim::Body(
        z.Api("GET", "/api/workflows?type=reconcile&status=completed&limit=10", "", true));
    return !page["workflows"].as_array().empty();
  }));
}

// Whether some loopback TCP socket on local port `port` holds bytes nobody has read yet: with
// zlh-sim frozen (SIGSTOP) on that port, a request sent to it and waiting for its answer.
bool BytesWaitingAt(uint16_t port) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // the header
  while (std::getline(tcp, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues;
    fields >> slot >> local >> remote >> state >> queues;
    uint16_t local_port =
        static_cast<uint16_t>(std::stoul(local.substr(local.find(':') + 1), nullptr, 16));
    unsigned long unread = std::stoul(queues.substr(queues.find(':') + 1), nullptr, 16);
    if (local_port == port && state == "01" && unread > 0) return true;  // 01: ESTABLISHED
  }
  return false;
}

uint16_t PortOf(const std::string& url) {
  return static_cast<uint16_t>(std::stoul(url.substr(url.rfind(':') + 1)));
}

// One connection kept alive across requests (libcurl reuses it), to see that a reload keeps it.
class KeptAlive {
 public:
  explicit KeptAlive(std::string base) : base_(std::move(base)), curl_(curl_easy_init()) {}
  ~KeptAlive() { curl_easy_cleanup(curl_); }
  KeptAlive(const KeptAlive&) = delete;
  KeptAlive& operator=(const KeptAlive&) = delete;
  // GET `path` with `token`; its status (0: no answer).
  long Get(const std::string& path, const std::string& token) {
    std::string body;
    curl_slist* headers = curl_slist_append(nullptr, ("Authorization: Bearer " + token).c_str());
    curl_easy_setopt(curl_, CURLOPT_URL, (base_ + path).c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, FetchCollect);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 20'000L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform(curl_) == CURLE_OK) {
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_slist_free_all(headers);
    return status;
  }
  // Whether the last request went over the connection that was already open.
  bool Reused() {
    long connects = -1;
    curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &connects);
    return connects == 0;
  }

 private:
  std::string base_;
  CURL* curl_;
};

// zlhd on a zlh-sim, and the files a reload reads.
class ZlhdReloadTest : public ::testing::Test {
 protected:
  // Starts zlhd with `config`; keeps the tokens its first start wrote.
  ::testing::AssertionResult Start(const std::string& config = kQuietConfig) {
    z_ = std::make_unique<ZlhdOnSim>(tmp_, config);
    ::testing::AssertionResult started = z_->Start();
    admin_ = z_->admin_token();
    portal_ = z_->portal_token();
    webhook_ = z_->webhook_secret();
    return started;
  }
  // Overwrites the tokens file, as an operator's editor does: these admin and portal tokens, and
  // `webhook` (the first start's secret unless given).
  void WriteTokens(const std::vector<std::string>& admins, const std::vector<std::string>& portals,
                   const std::string& webhook = "") {
    std::ofstream out(z_->data() + "/tokens", std::ios::trunc);
    for (const auto& t : admins) out << "admin " << t << "\n";
    for (const auto& t : portals) out << "portal " << t << "\n";
    out << "webhook " << (webhook.empty() ? webhook_ : webhook) << "\n";
  }
  void WriteConfig(const std::string& json) {
    std::ofstream(z_->config(), std::ios::trunc) << json;
  }
  // The status of GET /api/controller (admin only) with `token`.
  long StatusAs(const std::string& token) {
    return z_->ApiAs(token, "GET", "/api/controller").status;
  }

  TempDir tmp_;
  std::unique_ptr<ZlhdOnSim> z_;
  std::string admin_, portal_, webhook_;  // as the first start wrote them
};

// The operator's rotation: the new token beside the old one, a reload, clients moved to the new
// one, the old line removed, a reload. Meanwhile a request the old token authorized (a GET
// /api/nodes whose Proxmox call waits on a frozen zlh-sim) outlives the second reload and answers
// 200; a kept-alive connection carries on. Same process throughout: one "zlhd ready", the same
// fencing token (the journal's open count).
TEST_F(ZlhdReloadTest, ATokenIsRotatedWithoutARestartOrADroppedRequest) {
  ASSERT_TRUE(Start());
  ZlhdOnSim& z = *z_;
  const uint64_t fencing = FencingToken(z, admin_);
  KeptAlive connection(z.url());
  ASSERT_EQ(connection.Get("/api/controller", admin_), 200);

  WriteTokens({admin_, kNewAdmin}, {portal_});
  EXPECT_NE(z.Reload(1).find("reload applied: tokens admin 2, portal 1 (1 added, 0 removed)"),
            std::string::npos);
  EXPECT_EQ(StatusAs(admin_), 200) << "both are valid while the token rotates";
  EXPECT_EQ(StatusAs(kNewAdmin), 200);

  AwaitFirstReconcile(z);
  z.sim().Signal(SIGSTOP);
  auto in_flight =
      std::async(std::launch::async, [&] { return z.ApiAs(admin_, "GET", "/api/nodes"); });
  bool waiting = Eventually([&] { return BytesWaitingAt(PortOf(z.sim().url())); });
  WriteTokens({kNewAdmin}, {portal_});
  std::string second = z.Reload(2);
  z.sim().Signal(SIGCONT);
  ASSERT_TRUE(waiting) << "the request never reached zlh-sim";
  EXPECT_NE(second.find("tokens admin 1, portal 1 (0 added, 1 removed)"), std::string::npos)
      << second;
  Fetched answered = in_flight.get();
  EXPECT_EQ(answered.status, 200) << answered.error << answered.body;

  EXPECT_EQ(StatusAs(admin_), 401);
  EXPECT_EQ(StatusAs(kNewAdmin), 200);
  EXPECT_EQ(StatusAs(portal_), 403) << "the portal token is still not an admin";
  EXPECT_EQ(connection.Get("/api/controller", kNewAdmin), 200);
  EXPECT_TRUE(connection.Reused()) << "the kept-alive connection was closed";
  EXPECT_EQ(connection.Get("/api/controller", admin_), 401);
  EXPECT_EQ(FencingToken(z, kNewAdmin), fencing);
  EXPECT_EQ(Count(ReadFile(z.log()), "zlhd ready"), 1u);
  EXPECT_EQ(z.Stop(), 0);
}

// The portal's tokens rotate the same way, and each stays a portal token: it reads a customer's
// servers with customerId, never the admin routes.
TEST_F(ZlhdReloadTest, BothPortalTokensServeTheCustomersDuringARotation) {
  ASSERT_TRUE(Start());
  WriteTokens({admin_}, {portal_, kNewPortal});
  EXPECT_NE(z_->Reload(1).find("tokens admin 1, portal 2 (1 added, 0 removed)"), std::string::npos);
  for (const std::string& token : {portal_, std::string(kNewPortal)}) {
    EXPECT_EQ(z_->ApiAs(token, "GET", "/api/servers?customerId=c-1").status, 200);
    EXPECT_EQ(z_->ApiAs(token, "GET", "/api/servers").status, 400) << "customerId stays required";
    EXPECT_EQ(StatusAs(token), 403);
  }
  EXPECT_EQ(z_->Stop(), 0);
}

// A third token for a role is refused with the lines it is on; the running tokens stay.
TEST_F(ZlhdReloadTest, AThirdTokenForARoleIsRefusedAndTheRunningTokensKept) {
  ASSERT_TRUE(Start());
  WriteTokens({admin_, kNewAdmin, "admin-third-0123456789abcdef"}, {portal_});
  std::string line = z_->Reload(1);
  EXPECT_NE(line.find("reload refused"), std::string::npos) << line;
  EXPECT_NE(line.find("line 3: a third admin token (lines 1 and 2 hold two)"), std::string::npos)
      << line;
  EXPECT_EQ(StatusAs(admin_), 200);
  EXPECT_EQ(StatusAs(kNewAdmin), 401);
  EXPECT_EQ(z_->Stop(), 0);
}

// Each bad reload — a config that is not JSON, a field of the wrong type, an unknown field, a bad
// tokens file, a missing one — is refused whole: the new admin token written beside it does not
// work, the business hours it changes do not apply (the good reload at the end still finds them
// changed), the old token keeps working, and the log says why.
TEST_F(ZlhdReloadTest, ABadConfigOrTokensFileIsRefusedWholeAndTheRunningOnesKept) {
  ASSERT_TRUE(Start());
  const std::string good_config =
      R"({"controller": {"reconcileInterval": "1h", "digestAt": "off"}, "backup": {"at": "off"},
          "businessHours": {"timeZone": "UTC", "days": ["sat", "sun"]}})";
  const std::string path = z_->config(), tokens_path = z_->data() + "/tokens";
  struct Case {
    std::string config;
    std::vector<std::string> portals;  // empty: no tokens file at all
    std::string says;
  };
  int reloads = 0;
  for (const Case& c :
       {Case{R"({"businessHours": {"days": ["sat")", {portal_}, "config " + path + ": "},
        Case{R"({"businessHours": {"hours": 9}})",
             {portal_},
             "config " + path + ": (business_hours.hours): invalid value 9"},
        Case{R"({"businessHours": {"weekdays": ["sat"]}})",
             {portal_},
             "config " + path + ": (business_hours) weekdays: unknown field"},
        Case{good_config,
             {portal_, "short"},
             "tokens: " + tokens_path + " line 4: a secret needs 16 characters"},
        Case{good_config, {}, "tokens: cannot read " + tokens_path}}) {
    WriteConfig(c.config);
    WriteTokens({admin_, kNewAdmin}, c.portals);
    if (c.portals.empty()) std::remove(tokens_path.c_str());
    std::string line = z_->Reload(++reloads);
    EXPECT_NE(line.find("reload refused, the running configuration and tokens are kept: " + c.says),
              std::string::npos)
        << line;
    EXPECT_EQ(StatusAs(admin_), 200);
    EXPECT_EQ(StatusAs(kNewAdmin), 401);
  }
  WriteConfig(good_config);
  WriteTokens({admin_, kNewAdmin}, {portal_});
  std::string line = z_->Reload(++reloads);
  EXPECT_NE(line.find("reload applied: tokens admin 2, portal 1 (1 added, 0 removed)"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("business hours changed"), std::string::npos) << line;
  EXPECT_EQ(StatusAs(kNewAdmin), 200);
  EXPECT_EQ(z_->Stop(), 0);
}

// The tokens file's webhook line is the billing webhook's secret (no billing.webhookSecret in the
// config): a reload that changes it makes the new one sign and the old one fail.
TEST_F(ZlhdReloadTest, TheBillingWebhookSecretFollowsTheTokensFile) {
  ASSERT_TRUE(Start());
  const std::string new_secret = "webhook-rotated-0123456789abcdef0123456789";
  int events = 0;
  auto post = [&](const std::string& secret) {
    std::string body = R"({"id": "evt_)" + std::to_string(++events) +
                       R"(", "type": "invoice.paid", "customerId": "c-1",
                           "createdAt": "2030-01-01T00:00:00Z"})";
    return Fetch("POST", z_->url() + "/api/billing/webhook", body,
                 {"Content-Type: application/json",
                  "X-ZLH-Signature: " + api::SignWebhook(body, secret, NowMs() / 1000)})
        .status;
  };
  EXPECT_EQ(post(webhook_), 200);
  WriteTokens({admin_}, {portal_}, new_secret);
  EXPECT_NE(z_->Reload(1).find("(0 added, 0 removed, webhook secret changed)"), std::string::npos);
  EXPECT_EQ(post(webhook_), 401);
  EXPECT_EQ(post(new_secret), 200);
  EXPECT_EQ(z_->Stop(), 0);
}

constexpr const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

// Today's weekday in UTC, 0 = Sunday (1970-01-01 was a Thursday).
int TodayUtc() { return static_cast<int>((NowMs() / 86'400'000 + 4) % 7); }

size_t Containing(const std::vector<json::object>& messages, const std::string& text) {
  size_t n = 0;
  for (const auto& m : messages) {
    n += std::string(m.at("content").as_string()).find(text) != std::string::npos;
  }
  return n;
}

// A level-2 repair (start_container) inside business hours goes quietly to #alerts-repairs'
// webhook. The reload moves the business hours away from today and #alerts-repairs to another
// webhook: the next repair pings, on the new webhook, and the old one hears nothing more.
TEST_F(ZlhdReloadTest, NewRoutesAndBusinessHoursApplyToTheNextNotification) {
  const std::string all_week =
      R"("businessHours": {"timeZone": "UTC", "days": ["sun","mon","tue","wed","thu","fri","sat"],
                           "hours": "00:00-24:00"})";
  ASSERT_TRUE(Start(ControllerConfig(R"("maxRepairLevel": 2)", all_week)));
  ZlhdOnSim& z = *z_;
  json::object created = z.Body(z.Create("c-1", "n1", "alpha"));
  ASSERT_EQ(z.AwaitWorkflow(std::string(created["workflowId"].as_string())), "completed");
  std::string server(created["serverId"].as_string());
  int64_t vmid =
      z.Body(z.Api("GET", "/api/servers/" + server + "?customerId=c-1"))["vmid"].as_int64();
  const std::string stop =
      R"({"drift": "container_stopped", "vmid": )" + std::to_string(vmid) + "}";

  ASSERT_EQ(z.SimPost("/sim/faults", stop), 200);
  ASSERT_TRUE(Eventually([&] {
    return Containing(z.Messages("alerts-repairs"), "start_container") == 1;
  })) << ReadFile(z.log());
  EXPECT_FALSE(z.Messages("alerts-repairs")[0].at("ping").as_bool());

  const std::string elsewhere = R"("businessHours": {"timeZone": "UTC", "days": [")" +
                                std::string(kDays[(TodayUtc() + 2) % 7]) +
                                R"("], "hours": "00:00-24:00"},
      "discord": {"webhooks": {"alerts-repairs": ")" +
                                z.sim().url() + R"(/api/webhooks/repairs-v2/sim"}})";
  WriteConfig(ControllerConfig(R"("maxRepairLevel": 2)", elsewhere));
  std::string line = z.Reload(1);
  EXPECT_NE(line.find("discord 6 channels (1 changed); email unchanged; business hours changed"),
            std::string::npos)
      << line;

  ASSERT_TRUE(Eventually([&] {
    json::object repairs =
        z.Body(z.Api("GET", "/api/workflows?type=repair&status=completed&limit=10", "", true));
    return !repairs["workflows"].as_array().empty();
  })) << "the first repair did not end";
  ASSERT_EQ(z.SimPost("/sim/faults", stop), 200);
  ASSERT_TRUE(Eventually([&] {
    return Containing(z.Messages("repairs-v2"), "start_container") == 1;
  })) << ReadFile(z.log());
  EXPECT_TRUE(z.Messages("repairs-v2")[0].at("ping").as_bool()) << "outside business hours now";
  ASSERT_TRUE(z.AwaitDelivered());
  EXPECT_EQ(z.Messages("alerts-repairs").size(), 1u) << "the old webhook heard no more";
  EXPECT_EQ(z.Stop(), 0);
}

// A field only a restart applies (here: plans) is named in the reload's line and keeps its
// running value — a plan added to the file is still unknown — while the tokens in the same reload
// apply.
TEST_F(ZlhdReloadTest, FieldsThatNeedARestartAreLoggedAndKeepTheirRunningValues) {
  ASSERT_TRUE(Start());
  ZlhdOnSim& z = *z_;
  WriteConfig(R"({"controller": {"reconcileInterval": "1h", "digestAt": "off"},
                     "backup": {"at": "off"}, "serversPerCustomer": 9,
                     "plans": [{"name": "small", "cores": 1, "memoryMb": 2048, "diskGb": 10},
                               {"name": "huge", "cores": 8, "memoryMb": 32768, "diskGb": 200}]})");
  WriteTokens({admin_, kNewAdmin}, {portal_});
  std::string line = z.Reload(1);
  EXPECT_NE(line.find("reload applied: tokens admin 2"), std::string::npos) << line;
  EXPECT_NE(line.find("; changed but kept until a restart: serversPerCustomer, plans"),
            std::string::npos)
      << line;
  EXPECT_EQ(StatusAs(kNewAdmin), 200);
  json::object body{{"customerId", "c-1"},      {"ctype", "game"}, {"game", "vanilla"},
                    {"requestNonce", "n-huge"}, {"plan", "huge"},  {"name", "huge"}};
  Fetched huge = z.Api("POST", "/api/servers/create", json::serialize(body));
  EXPECT_EQ(huge.status, 400) << huge.body;
  EXPECT_NE(huge.body.find("plan"), std::string::npos) << huge.body;
  EXPECT_EQ(z.Stop(), 0);
}

}  // namespace
}  // namespace zlh
