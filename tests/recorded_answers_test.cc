// The DNS, Discord and Proxmox adapters against recorded answers (tests/fixtures, built from the
// services' documented examples; tests/fixtures/README.md says where each came from), served in
// order by a small HTTP server that notes every request: paging, duplicates, auth errors, rate
// limits and unknown webhooks, offline nodes, tasks that end with warnings, locks, refused
// parameters and interfaces as the real services answer them, not as zlh-sim does.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <deque>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "activities/dns_http.h"
#include "activities/notifier_discord.h"
#include "activities/proxmox.h"
#include "api/http_server.h"
#include "flows/capacity.h"
#include "flows/placement.h"

namespace zlh::activities {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

// Fixture `name` ("cloudflare/list_empty") as the answer it records.
api::Response Recorded(const std::string& name) {
  std::ifstream in(std::string(ZLH_FIXTURES) + "/" + name + ".json");
  std::stringstream text;
  text << in.rdbuf();
  json::object f = json::parse(text.str()).as_object();
  api::Response r;
  r.status = static_cast<int>(f.at("status").as_int64());
  if (const json::value* reason = f.if_contains("reason")) r.reason = reason->as_string();
  if (const json::value* body = f.if_contains("body")) {
    r.body = body->is_string() ? std::string(body->as_string()) : json::serialize(*body);
  }
  if (const json::value* headers = f.if_contains("headers")) {
    for (const auto& [key, value] : headers->as_object()) {
      if (key == "Content-Type") {
        r.content_type = value.as_string();
      } else {
        r.headers.emplace_back(key, value.as_string());
      }
    }
  }
  return r;
}

struct Seen {
  std::string method;
  std::string target;
  std::string body;
};

// Answers each request with the next recorded answer of its script (500 when none is left), on its
// own thread; notes every request.
class RecordedService {
 public:
  explicit RecordedService(std::vector<std::string> script) {
    for (const std::string& name : script) script_.push_back(Recorded(name));
    api::ServerOptions o;
    o.port = 0;
    server_ = std::make_unique<api::HttpServer>(
        io_, o, [this](const api::Request& req) -> api::Task<api::Response> {
          std::lock_guard lock(mu_);
          seen_.push_back({req.method, req.target, req.body});
          if (script_.empty()) co_return api::Response{500, "text/plain", "no answer left", {}, ""};
          api::Response r = script_.front();
          script_.pop_front();
          co_return r;
        });
    port_ = server_->Listen().value();
    server_->Start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RecordedService() {
    asio::co_spawn(
        io_,
        [this]() -> api::Task<void> {
          co_await server_->Stop(Millis(100));
          io_.stop();
        },
        asio::detached);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  asio::io_context io_;
  std::unique_ptr<api::HttpServer> server_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::deque<api::Response> script_;
  std::vector<Seen> seen_;
};

class RecordedAnswersTest : public ::testing::Test {
 protected:
  template <typename T>
  T Run(Task<T> task) {
    auto f = asio::co_spawn(io_, std::move(task), asio::use_future);
    io_.restart();
    while (f.wait_for(0s) != std::future_status::ready) io_.run_one_for(10ms);
    return f.get();
  }
  CloudflareDns Dns(const RecordedService& cf, int per_page = 100) {
    CloudflareOptions o;
    o.base_url = cf.url() + "/client/v4";
    o.zone_id = "023e105f4ecef8ad9ca31a8372d0c353";
    o.token = "token";
    o.per_page = per_page;
    o.zone_per_page = per_page;
    return CloudflareDns(http_, o);
  }
  DiscordNotifier Discord(const RecordedService& discord) {
    DiscordOptions o;
    o.webhooks = {{"alerts-critical", discord.url() + "/api/webhooks/223704706495545344/token"}};
    return DiscordNotifier(http_, o);
  }

  asio::io_context io_;
  HttpClient http_{2};
  CallContext ctx_{"wf:1:notify", 0};
};

TEST_F(RecordedAnswersTest, CloudflareListFollowsEveryPage) {
  RecordedService cf({"cloudflare/list_page1_of_2", "cloudflare/list_page2_of_2"});
  auto zone = Run(Dns(cf, 2).ListZone());
  ASSERT_TRUE(zone.ok()) << zone.status().ToString();
  ASSERT_EQ(zone->size(), 3u);
  EXPECT_EQ(zone->at(1).name, "creative.play.example");
  EXPECT_EQ(zone->at(2).content, "0 5 25565 survival.play.example");  // from `data`
  std::vector<Seen> seen = cf.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_NE(seen[0].target.find("page=1&per_page=2"), std::string::npos) << seen[0].target;
  EXPECT_NE(seen[1].target.find("page=2&per_page=2"), std::string::npos) << seen[1].target;
}

TEST_F(RecordedAnswersTest, CloudflarePublishListsThenCreatesAnUnproxiedRecord) {
  RecordedService cf({"cloudflare/list_empty", "cloudflare/create_a"});
  ASSERT_TRUE(Run(Dns(cf).Publish(ctx_, {"", "A", "survival.play.example", "198.51.100.4"})).ok());
  std::vector<Seen> seen = cf.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].method, "POST");
  json::value sent = json::parse(seen[1].body);
  EXPECT_EQ(sent.at("type").as_string(), "A");
  EXPECT_FALSE(sent.at("proxied").as_bool());
  EXPECT_EQ(sent.at("ttl").as_int64(), 1);
}

TEST_F(RecordedAnswersTest, CloudflareRecordThatExistsIsSuccessEitherWayItIsSaid) {
  for (const char* duplicate :
       {"cloudflare/duplicate_identical_81058", "cloudflare/duplicate_81057"}) {
    RecordedService cf({"cloudflare/list_empty", duplicate});
    Status s = Run(Dns(cf).Publish(ctx_, {"", "A", "survival.play.example", "198.51.100.4"}));
    EXPECT_TRUE(s.ok()) << duplicate << ": " << s.ToString();
    EXPECT_EQ(cf.seen().size(), 2u) << duplicate;
  }
}

TEST_F(RecordedAnswersTest, CloudflareAuthErrorsAreRefusalsNamingCloudflaresError) {
  RecordedService records({"cloudflare/auth_error_10000"});
  Status s = Run(Dns(records).Publish(ctx_, {"", "A", "survival.play.example", "198.51.100.4"}));
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("10000 Authentication error"), std::string::npos) << s.message();
  RecordedService zone({"cloudflare/invalid_token_9109"});
  auto listed = Run(Dns(zone).List("survival.play.example"));
  EXPECT_EQ(listed.status().code(), Code::kInvalidArgument) << listed.status().ToString();
  EXPECT_NE(listed.status().message().find("9109 Invalid access token"), std::string::npos);
}

TEST_F(RecordedAnswersTest, CloudflareRecordGoneBeforeItsDeleteIsSuccess) {
  RecordedService cf({"cloudflare/list_srv", "cloudflare/record_not_found_81044"});
  EXPECT_TRUE(Run(Dns(cf).Unpublish(ctx_, "SRV", "_minecraft._tcp.survival.play.example")).ok());
  std::vector<Seen> seen = cf.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].method, "DELETE");
  EXPECT_NE(seen[1].target.find("/9a7806061c88ada191ed06f989cc3dac"), std::string::npos);
}

TEST_F(RecordedAnswersTest, DiscordParts204AndWaited200AreDelivered) {
  RecordedService discord({"discord/execute_204", "discord/execute_wait_200"});
  PostResult shown =
      Run(Discord(discord).PostPart("wf:1:notify", "alerts-critical", "hello", true, 0));
  EXPECT_TRUE(shown.delivered());
  EXPECT_EQ(shown.http_status, 204);
  PostResult waited =
      Run(Discord(discord).PostPart("wf:1:notify", "alerts-critical", "hello", false, 0));
  EXPECT_TRUE(waited.delivered());
  EXPECT_EQ(waited.http_status, 200);
  std::vector<Seen> seen = discord.seen();
  ASSERT_EQ(seen.size(), 2u);
  json::value pinged = json::parse(seen[0].body);
  EXPECT_EQ(pinged.at("content").as_string(), "@here hello");
  EXPECT_EQ(pinged.at("allowed_mentions").at("parse").at(0).as_string(), "everyone");
  json::value quiet = json::parse(seen[1].body);
  EXPECT_EQ(quiet.at("content").as_string(), "hello");
  EXPECT_TRUE(quiet.at("allowed_mentions").at("parse").as_array().empty());
}

// PostPart makes one attempt and tells what came of it, for the outbox to decide: Discord's word,
// its code and a 429's wait, from the body or else the header of a proxy's page.
TEST_F(RecordedAnswersTest, DiscordPostPartTellsEachAnswerAsItCameWithoutRetrying) {
  RecordedService discord({"discord/execute_204", "discord/rate_limited_429",
                           "discord/cloudflare_429", "discord/unknown_webhook_404",
                           "discord/invalid_token_401"});
  DiscordNotifier notifier = Discord(discord);
  auto post = [&] {
    return Run(notifier.PostPart("wf:7:notify", "alerts-critical", "hi", true, 0));
  };

  PostResult shown = post();
  EXPECT_TRUE(shown.delivered());
  EXPECT_EQ(shown.http_status, 204);
  EXPECT_FALSE(shown.retry_after.has_value());
  EXPECT_EQ(shown.message, "");

  PostResult limited = post();
  EXPECT_FALSE(limited.delivered());
  EXPECT_TRUE(limited.transport.ok());
  EXPECT_EQ(limited.http_status, 429);
  EXPECT_EQ(limited.retry_after, Millis(350)) << "the body's 0.35 s, not Retry-After's 1 s";
  EXPECT_EQ(limited.message, "You are being rate limited.");
  EXPECT_EQ(limited.discord_code, 0);

  PostResult proxy = post();  // Cloudflare's HTML page: only its Retry-After tells the wait
  EXPECT_EQ(proxy.http_status, 429);
  EXPECT_EQ(proxy.retry_after, Millis(2'000));
  EXPECT_EQ(proxy.message, "Too Many Requests");

  PostResult gone = post();
  EXPECT_EQ(gone.http_status, 404);
  EXPECT_EQ(gone.discord_code, 10015);
  EXPECT_EQ(gone.message, "Unknown Webhook");
  EXPECT_FALSE(gone.retry_after.has_value());

  PostResult token = post();
  EXPECT_EQ(token.http_status, 401);
  EXPECT_EQ(token.discord_code, 50027);
  EXPECT_EQ(token.message, "Invalid Webhook Token");
  for (const PostResult& told : {shown, limited, proxy, gone, token}) {
    EXPECT_EQ(told.message.find("/token"), std::string::npos) << "the webhook URL is a secret";
  }

  std::vector<Seen> seen = discord.seen();
  ASSERT_EQ(seen.size(), 5u) << "one request per attempt";
  json::value sent = json::parse(seen[0].body);
  EXPECT_EQ(sent.at("nonce").as_string(), DiscordNonce("wf:7:notify", 0));
  EXPECT_EQ(sent.at("content").as_string(), "@here hi");
}

ProxmoxHypervisor Proxmox(HttpClient& http, const RecordedService& pve) {
  ProxmoxOptions o;
  o.base_url = pve.url();
  o.token = "zlh@pve!flow=00000000-0000-0000-0000-000000000000";
  o.task_poll_interval = Millis(10);
  return ProxmoxHypervisor(http, o);
}

// An offline node is reported as such (placement skips it; GET /api/nodes lists it), and a node
// the token may not audit has no memory told (placement finds no room known on it).
TEST_F(RecordedAnswersTest, ProxmoxNodesTellAnOfflineNodeAndAHiddenLoad) {
  RecordedService pve({"proxmox/nodes_one_offline"});
  auto nodes = Run(Proxmox(http_, pve).Nodes());
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  ASSERT_EQ(nodes->size(), 3u);
  EXPECT_EQ((*nodes)[0].name, "pve1");
  EXPECT_TRUE((*nodes)[0].online());
  EXPECT_EQ((*nodes)[0].maxmem, 68719476736);
  EXPECT_EQ((*nodes)[1].name, "pve2");
  EXPECT_EQ((*nodes)[1].status, "offline");
  EXPECT_FALSE((*nodes)[1].online());
  EXPECT_EQ((*nodes)[2].name, "pve3");
  EXPECT_TRUE((*nodes)[2].online());
  EXPECT_EQ((*nodes)[2].maxmem, 0);  // its load not told: no room known
}

// Placement's view of the same answer: the offline node is left out, and the node whose memory
// is not told never has room (SPEC §9.2), saying why.
TEST_F(RecordedAnswersTest, PlacementLeavesAnOfflineNodeOutAndFindsNoRoomWhereMemoryIsHidden) {
  RecordedService pve({"proxmox/nodes_one_offline", "proxmox/resources_one_template"});
  ProxmoxHypervisor hypervisor = Proxmox(http_, pve);
  flows::Deps deps;
  deps.hypervisor = &hypervisor;
  auto encoded = Run(flows::GatherFleet(deps));
  ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
  auto view = flows::DecodeFleetView(*encoded);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  std::set<std::string> online(view->nodes.begin(), view->nodes.end());
  EXPECT_EQ(online, (std::set<std::string>{"pve1", "pve3"}));
  EXPECT_EQ(view->vmids, (std::set<int64_t>{9000}));
  config::Settings settings = config::Defaults();
  EXPECT_EQ(flows::CapacityRefusal(settings, nullptr, {}, view->maxmem["pve1"], 4096), std::nullopt);
  auto hidden = flows::CapacityRefusal(settings, nullptr, {}, view->maxmem["pve3"], 4096);
  ASSERT_TRUE(hidden.has_value());
  EXPECT_NE(hidden->find("Sys.Audit"), std::string::npos) << *hidden;
}

TEST_F(RecordedAnswersTest, ProxmoxTaskEndingWithWarningsIsASuccessAndAnErrorIsNot) {
  RecordedService warned({"proxmox/start_upid", "proxmox/task_stopped_warnings"});
  Status s = Run(Proxmox(http_, warned).Start(ctx_, "pve1", 101));
  EXPECT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(warned.seen().size(), 2u);
  EXPECT_EQ(warned.seen()[1].target.find("/api2/json/nodes/pve1/tasks/UPID:pve1:"), 0u)
      << warned.seen()[1].target;
  RecordedService failed({"proxmox/start_upid", "proxmox/task_stopped_error"});
  s = Run(Proxmox(http_, failed).Start(ctx_, "pve1", 101));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("startup for container '101' failed"), std::string::npos)
      << s.ToString();
}

// A lock is retried, whichever way Proxmox says it: only in the status line (before 8.3) or in the
// body's message too; the error carries Proxmox's words.
TEST_F(RecordedAnswersTest, ProxmoxLockIsRetriableWhereverItsMessageIs) {
  RecordedService old_style({"proxmox/locked_500"});
  Status s = Run(Proxmox(http_, old_style).SetConfig(ctx_, "pve1", 101, {{"cores", "2"}}));
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("HTTP 500 CT is locked (backup)"), std::string::npos) << s.ToString();
  RecordedService new_style({"proxmox/file_lock_timeout_500"});
  s = Run(Proxmox(http_, new_style).SetConfig(ctx_, "pve1", 101, {{"cores", "2"}}));
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("HTTP 500 can't lock file '/run/lock/lxc/pve-config-101.lock' - got "
                             "timeout"),
            std::string::npos)
      << s.ToString();
}

TEST_F(RecordedAnswersTest, ProxmoxRefusedParametersArePermanentAndNamed) {
  RecordedService pve({"proxmox/bad_params_400"});
  Status s =
      Run(Proxmox(http_, pve).SetConfig(ctx_, "pve1", 101, {{"cores", "two"}, {"memory", "8"}}));
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  // Each parameter named, in whatever order Proxmox lists them.
  EXPECT_NE(s.message().find("HTTP 400 bad parameters: "), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("cores: type check ('integer') failed - got 'two'"),
            std::string::npos);
  EXPECT_NE(s.message().find("memory: value must have a minimum value of 16"), std::string::npos);
  ASSERT_EQ(pve.seen().size(), 1u);
  EXPECT_EQ(pve.seen()[0].body, "cores=two&memory=8");
}

TEST_F(RecordedAnswersTest, ProxmoxInterfacesOfARunningAndAStoppedContainer) {
  RecordedService pve({"proxmox/interfaces_running", "proxmox/interfaces_stopped"});
  auto running = Run(Proxmox(http_, pve).Interfaces("pve1", 101));
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  ASSERT_EQ(running->size(), 2u);
  EXPECT_EQ((*running)[1].name, "eth0");
  EXPECT_EQ((*running)[1].inet, "10.20.1.57/22");
  EXPECT_EQ((*running)[1].hwaddr, "bc:24:11:5e:7a:01");
  EXPECT_EQ((*running)[1].inet6, "fe80::be24:11ff:fe5e:7a01/64");
  EXPECT_EQ(pve.seen()[0].target, "/api2/json/nodes/pve1/lxc/101/interfaces");
  auto stopped = Run(Proxmox(http_, pve).Interfaces("pve1", 101));
  ASSERT_TRUE(stopped.ok()) << stopped.status().ToString();
  EXPECT_TRUE(stopped->empty());
}

}  // namespace
}  // namespace zlh::activities
