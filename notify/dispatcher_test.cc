// The outbox's dispatcher (SPEC §10) against real components: the DiscordNotifier posting to
// zlh-sim processes over loopback HTTP (faults injected through /sim/faults), the SmtpMailer
// sending to a real SMTP server (aiosmtpd), and a RocksDB journal. Entries are recorded with
// fleet::EnqueueNotification, as a workflow's write will.
#include "notify/dispatcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <future>
#include <thread>

#include "activities/notifier_discord.h"
#include "activities/smtp_mailer.h"
#include "base/clock.h"
#include "base/temp_dir.h"
#include "fleet/outbox.h"
#include "tests/eventually.h"
#include "tests/http_fetch.h"
#include "tests/sim_process.h"
#include "tests/smtp_process.h"

namespace zlh::notify {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

DispatcherOptions Fast() {
  DispatcherOptions o;
  o.backoff = BackoffOptions{Millis(50), Millis(200)};
  o.rescan = Millis(100);
  o.prune_every = Millis(3'600'000);
  return o;
}

// 100 lines of 50 bytes: three Discord messages.
std::string ThreeMessagesOfLines() {
  std::string content;
  for (int i = 0; i < 100; ++i)
    content += "line " + std::to_string(100 + i) + std::string(41, '.') + "\n";
  content.pop_back();
  return content;
}

long SimPost(const Sim& sim, const std::string& path, const std::string& body) {
  return Fetch("POST", sim.url() + path, body).status;
}

// The messages `sim` shows on `channel`, oldest first.
std::vector<json::object> Shown(const Sim& sim, const std::string& channel) {
  json::value state = json::parse(Fetch("GET", sim.url() + "/sim/state").body);
  std::vector<json::object> out;
  for (const auto& m : state.at("discordMessages").as_array()) {
    if (m.at("channel").as_string() == channel) out.push_back(m.as_object());
  }
  return out;
}

std::vector<std::string> Contents(const std::vector<json::object>& shown) {
  std::vector<std::string> out;
  for (const auto& m : shown) out.emplace_back(m.at("content").as_string());
  return out;
}

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(sim_.url().empty());
    OpenJournal();
  }
  void TearDown() override { Stop(); }

  void OpenJournal() {
    auto j = journal::Journal::Open(tmp_.Sub("journal"));
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    journal_ = std::move(*j);
  }

  // The dispatcher running on its own thread; Discord's webhooks at sim_ unless `discord` names
  // others, each post bounded by `timeout`.
  void Start(DispatcherOptions options = Fast(), activities::DiscordOptions discord = {},
             activities::Mailer* mailer = nullptr, Millis timeout = Millis(2'000)) {
    io_ = std::make_unique<asio::io_context>();
    work_.emplace(io_->get_executor());
    http_ = std::make_unique<activities::HttpClient>(4);
    discord.default_webhook_template = sim_.url() + "/api/webhooks/{channel}/sim";
    discord.request_timeout = timeout;
    notifier_ = std::make_unique<activities::DiscordNotifier>(*http_, discord);
    dispatcher_ = std::make_unique<Dispatcher>(io_->get_executor(), *journal_, *notifier_, mailer,
                                               std::move(options));
    asio::post(*io_, [this] { dispatcher_->Start(); });
    thread_ = std::thread([this] { io_->run(); });
  }
  // A clean stop: the attempts in flight end first.
  void Stop() {
    if (!thread_.joinable()) return;
    asio::co_spawn(*io_, dispatcher_->Stop(Millis(10'000)), asio::use_future).get();
    work_.reset();
    thread_.join();
    dispatcher_.reset();
    notifier_.reset();
    http_.reset();
    io_.reset();
  }
  // The process dies where it is: the event loop never runs again, so no write after the ones
  // already durable is made. (An in-process stand-in for SIGKILL: it leaves the journal exactly as
  // a kill between an attempt's W1 and W2 does, because W1 was synced before the post began and
  // nothing else is queued. The journal's close below syncs nothing new.)
  void Crash() {
    io_->stop();
    thread_.join();
    work_.reset();
    journal_.reset();
    http_.reset();  // waits for the post on its way; its answer is never read
    dispatcher_.reset();
    notifier_.reset();
    io_.reset();
    OpenJournal();
  }

  uint64_t Enqueue(const std::string& channel, const std::string& content, bool ping = false,
                   proto::NotificationOrigin origin = proto::ORIGIN_WORKFLOW) {
    fleet::Intent intent;
    intent.key = "wf-" + std::to_string(++keys_) + ":notify";
    intent.channel = channel;
    intent.content = content;
    intent.ping = ping;
    intent.origin = origin;
    intent.source = origin == proto::ORIGIN_NODE ? "watchdog" : "wf-" + std::to_string(keys_);
    uint64_t id = 0;
    Status s = journal_->AppendSync({}, [&](journal::Txn& t) -> Status {
      auto got = fleet::EnqueueNotification(t, intent, NowMs());
      if (got.ok()) id = *got;
      return got.status();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return id;
  }
  proto::Notification Entry(uint64_t id) {
    auto n = fleet::GetNotification(*journal_, id);
    EXPECT_TRUE(n.ok() && n->has_value()) << id;
    return n.ok() && n->has_value() ? **n : proto::Notification();
  }
  proto::Delivery On(uint64_t id, const std::string& route) {
    proto::Notification n = Entry(id);
    for (const auto& d : n.deliveries()) {
      if (d.route() == route) return d;
    }
    return proto::Delivery();
  }
  proto::Delivery Discord(uint64_t id) { return On(id, fleet::DiscordRoute(Entry(id).channel())); }
  bool Is(uint64_t id, const std::string& status) {
    return fleet::NotificationStatus(Entry(id)) == status;
  }
  Snapshot Snap() {
    std::promise<Snapshot> got;
    asio::post(*io_, [&] { got.set_value(dispatcher_->snapshot()); });
    return got.get_future().get();
  }
  uint64_t Retries(const std::string& channel, const std::string& reason) {
    auto counters = Snap().counters;
    auto it = counters.retries.find(RetryKey{"discord", channel, reason});
    return it == counters.retries.end() ? 0 : it->second;
  }

  TempDir tmp_;
  Sim sim_{tmp_.Sub("sim.json")};
  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<asio::io_context> io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::unique_ptr<activities::HttpClient> http_;
  std::unique_ptr<activities::DiscordNotifier> notifier_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::thread thread_;
  int keys_ = 0;
};

TEST_F(DispatcherTest, AChannelIsDeliveredInOrderWhileItsHeadRetries) {
  // The head meets a 429, then two 503s.
  ASSERT_EQ(SimPost(sim_, "/sim/faults", R"({"call":"discord.post","mode":"error","status":429})"),
            200);
  ASSERT_EQ(SimPost(sim_, "/sim/faults",
                    R"({"call":"discord.post","mode":"error","status":503,"count":2})"),
            200);
  std::vector<uint64_t> ids = {Enqueue("alerts-repairs", "first"),
                               Enqueue("alerts-repairs", "second"),
                               Enqueue("alerts-repairs", "third")};
  Start();
  ASSERT_TRUE(Eventually([&] { return Is(ids[2], "delivered"); }, 20s));
  EXPECT_EQ(Contents(Shown(sim_, "alerts-repairs")),
            (std::vector<std::string>{"first", "second", "third"}));
  proto::Delivery head = Discord(ids[0]);
  EXPECT_EQ(head.attempts(), 4u);
  EXPECT_EQ(head.state(), proto::DELIVERY_DELIVERED);
  EXPECT_EQ(head.last_status(), 204);
  EXPECT_EQ(head.last_error(), "");
  // Those behind it waited for it: one attempt each.
  EXPECT_EQ(Discord(ids[1]).attempts(), 1u);
  EXPECT_EQ(Discord(ids[2]).attempts(), 1u);
  EXPECT_EQ(Retries("alerts-repairs", "rate_limited"), 1u);
  EXPECT_EQ(Retries("alerts-repairs", "unavailable"), 2u);
  EXPECT_EQ(Snap().counters.delivered, 3u);
}

TEST_F(DispatcherTest, OneChannelsOutageDoesNotHoldAnother) {
  // #audit-log's webhook is on a Discord that answers 503 to every post.
  Sim down(tmp_.Sub("down.json"));
  ASSERT_EQ(SimPost(down, "/sim/faults",
                    R"({"call":"discord.post","mode":"error","status":503,"count":100000})"),
            200);
  activities::DiscordOptions discord;
  discord.webhooks = {{"audit-log", down.url() + "/api/webhooks/audit-log/sim"}};
  uint64_t audit = Enqueue("audit-log", "tick 1: 3 actions");
  uint64_t c1 = Enqueue("alerts-critical", "agent offline on mc-1", true);
  uint64_t c2 = Enqueue("alerts-critical", "agent offline on mc-2", true);
  Start(Fast(), discord);
  ASSERT_TRUE(Eventually([&] { return Is(c2, "delivered"); }, 20s));
  EXPECT_TRUE(Is(c1, "delivered"));
  EXPECT_EQ(Shown(sim_, "alerts-critical").size(), 2u);
  // The outage goes on, retried without a limit, and shows as failing.
  ASSERT_TRUE(Eventually([&] { return Discord(audit).attempts() >= 3; }, 20s));
  EXPECT_TRUE(Is(audit, "pending"));
  EXPECT_EQ(Discord(audit).last_status(), 503);
  EXPECT_TRUE(Eventually([&] {
    Snapshot s = Snap();
    return s.failing == std::vector<std::string>{"audit-log"} && s.pending == 1;
  }));
}

TEST_F(DispatcherTest, ARestartFindsTheInterruptedAttemptAndSendsItAgainCounted) {
  // The post is shown at once and answered 3 s later: the process dies in between.
  ASSERT_EQ(
      SimPost(sim_, "/sim/faults", R"({"call":"discord.post","mode":"latency","latencyMs":3000})"),
      200);
  uint64_t id = Enqueue("alerts-critical", "agent offline on mc-1", true);
  Start(Fast(), {}, nullptr, Millis(10'000));
  ASSERT_TRUE(Eventually([&] { return Shown(sim_, "alerts-critical").size() == 1; }, 20s));
  // W1 was durable before the post went out.
  EXPECT_EQ(Discord(id).attempts(), 1u);
  EXPECT_NE(Discord(id).in_flight_ms(), 0);
  Crash();
  EXPECT_NE(Discord(id).in_flight_ms(), 0) << "no W2 after the crash";

  Start();
  ASSERT_TRUE(Eventually([&] { return Is(id, "delivered"); }, 20s));
  proto::Delivery d = Discord(id);
  EXPECT_EQ(d.attempts(), 2u);
  EXPECT_EQ(d.interrupted(), 1u);
  EXPECT_EQ(d.in_flight_ms(), 0);
  EXPECT_EQ(Snap().counters.interrupted, 1u);
  // Shown twice (Discord's webhooks ignore the nonce), both times with the same nonce.
  std::vector<json::object> shown = Shown(sim_, "alerts-critical");
  ASSERT_EQ(shown.size(), 2u);
  for (const auto& m : shown) {
    EXPECT_EQ(m.at("nonce").as_string(), activities::DiscordNonce(Entry(id).key(), 0));
  }
}

TEST_F(DispatcherTest, ANonLeaderDeliversOnlyNodeEntries) {
  std::atomic<bool> leads{false};
  DispatcherOptions options = Fast();
  options.leads = [&leads] { return leads.load(); };
  uint64_t from_workflow = Enqueue("alerts-critical", "from a workflow", true);
  uint64_t from_watchdog =
      Enqueue("alerts-critical", "from the watchdog", true, proto::ORIGIN_NODE);
  uint64_t audit = Enqueue("audit-log", "tick 7", false);
  Start(options);
  ASSERT_TRUE(Eventually([&] { return Is(from_watchdog, "delivered"); }, 20s));
  EXPECT_EQ(Discord(from_workflow).attempts(), 0u);
  EXPECT_EQ(Discord(audit).attempts(), 0u);
  EXPECT_EQ(Contents(Shown(sim_, "alerts-critical")),
            std::vector<std::string>{"@here from the watchdog"});

  leads = true;
  dispatcher_->Wake();
  ASSERT_TRUE(
      Eventually([&] { return Is(from_workflow, "delivered") && Is(audit, "delivered"); }, 20s));
  EXPECT_EQ(Contents(Shown(sim_, "alerts-critical")),
            (std::vector<std::string>{"@here from the watchdog", "@here from a workflow"}));
}

TEST_F(DispatcherTest, AHungPostTimesOutAndHoldsNoOtherLane) {
  // #alerts-critical's Discord holds its first post unanswered for 30 s; attempts time out at 2 s.
  Sim hung(tmp_.Sub("hung.json"));
  ASSERT_EQ(
      SimPost(hung, "/sim/faults", R"({"call":"discord.post","mode":"timeout","latencyMs":30000})"),
      200);
  activities::DiscordOptions discord;
  discord.webhooks = {{"alerts-critical", hung.url() + "/api/webhooks/alerts-critical/sim"}};
  uint64_t held = Enqueue("alerts-critical", "agent offline on mc-1", true);
  uint64_t audit = Enqueue("audit-log", "tick 9");
  Start(Fast(), discord, nullptr, Millis(2'000));
  ASSERT_TRUE(Eventually([&] { return Is(audit, "delivered"); }, 20s));
  proto::Delivery during = Discord(held);
  EXPECT_EQ(during.attempts(), 1u);
  EXPECT_NE(during.in_flight_ms(), 0) << "the hung post should still be in flight";

  ASSERT_TRUE(Eventually([&] { return Is(held, "delivered"); }, 20s));
  EXPECT_EQ(Discord(held).attempts(), 2u);
  EXPECT_EQ(Retries("alerts-critical", "timeout"), 1u);
  EXPECT_EQ(Shown(hung, "alerts-critical").size(), 1u);
}

TEST_F(DispatcherTest, ALongMessageResumesAtItsFirstUnsentPart) {
  // Part 0 goes through; part 1's first post meets a 503.
  ASSERT_EQ(
      SimPost(sim_, "/sim/faults", R"({"call":"discord.post","mode":"latency","latencyMs":0})"),
      200);
  ASSERT_EQ(SimPost(sim_, "/sim/faults", R"({"call":"discord.post","mode":"error","status":503})"),
            200);
  uint64_t id = Enqueue("alerts-repairs", ThreeMessagesOfLines(), true);
  Start();
  ASSERT_TRUE(Eventually([&] { return Is(id, "delivered"); }, 20s));
  proto::Delivery d = Discord(id);
  EXPECT_EQ(d.parts(), 3u);
  EXPECT_EQ(d.parts_done(), 3u);
  EXPECT_EQ(d.attempts(), 4u);
  std::vector<json::object> shown = Shown(sim_, "alerts-repairs");
  ASSERT_EQ(shown.size(), 3u) << "part 0 was sent again";
  for (size_t part = 0; part < shown.size(); ++part) {
    EXPECT_EQ(shown[part].at("nonce").as_string(), activities::DiscordNonce(Entry(id).key(), part));
    EXPECT_EQ(shown[part].at("ping").as_bool(), part == 0);
  }
}

TEST_F(DispatcherTest, RefusedAndDeliveredEntriesArePrunedAndPendingOnesKept) {
  ASSERT_EQ(SimPost(sim_, "/sim/faults", R"({"discordWebhookDeleted": "alerts-billing"})"), 200);
  DispatcherOptions options = Fast();
  options.prune_every = Millis(100);
  options.keep_delivered = Millis(1);
  options.keep_failed = Millis(1);
  options.leads = [] { return false; };
  uint64_t delivered = Enqueue("system-health", "digest", false, proto::ORIGIN_NODE);
  uint64_t refused = Enqueue("alerts-billing", "payment failed", true, proto::ORIGIN_NODE);
  uint64_t waiting = Enqueue("alerts-critical", "not for a standby");
  Start(options);
  auto gone = [&](uint64_t id) {
    auto n = fleet::GetNotification(*journal_, id);
    return n.ok() && !n->has_value();
  };
  ASSERT_TRUE(Eventually([&] { return gone(delivered) && gone(refused); }, 20s));
  EXPECT_EQ(Shown(sim_, "system-health").size(), 1u);
  EXPECT_TRUE(Is(waiting, "pending"));
}

// The email lane, with a real SMTP server.
class DispatcherEmailTest : public DispatcherTest {
 protected:
  void SetUp() override {
    DispatcherTest::SetUp();
    ASSERT_TRUE(smtp_.ready()) << "python3 -m aiosmtpd did not start (python3-aiosmtpd)";
  }
  activities::SmtpOptions Mail() const {
    activities::SmtpOptions o;
    o.url = smtp_.url();
    o.from = "zlh@example.org";
    o.to = {"ops@example.org"};
    o.timeout = Millis(10'000);
    return o;
  }
  DispatcherOptions WithEmail(Millis fallback_after) {
    DispatcherOptions o = Fast();
    o.email = EmailPolicy{true, fallback_after, false, false};
    return o;
  }
  // The Message-ID the mailer gives notification `id`'s email.
  std::string MessageIdOf(uint64_t id) {
    std::string mail = activities::FormatEmail(Mail(), Entry(id).key(), NowMs(), "c", "t");
    size_t at = mail.find("Message-ID: ");
    return mail.substr(at, mail.find("\r\n", at) - at);
  }

  SmtpServer smtp_;
  activities::SmtpMailer mailer_{Mail()};
};

TEST_F(DispatcherEmailTest, APingStillNotOnDiscordAfterFallbackAfterGoesByEmail) {
  ASSERT_EQ(SimPost(sim_, "/sim/faults",
                    R"({"call":"discord.post","mode":"error","status":503,"count":100000})"),
            200);
  uint64_t ping = Enqueue("alerts-provisioning", "provisioning of srv1 failed\nno capacity", true);
  uint64_t quiet = Enqueue("alerts-provisioning", "a note", false);
  Start(WithEmail(Millis(300)), {}, &mailer_);
  ASSERT_TRUE(
      Eventually([&] { return On(ping, "email").state() == proto::DELIVERY_DELIVERED; }, 20s));
  std::vector<std::string> mails = smtp_.Messages();
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_NE(mails[0].find("Subject: [ZLH] alerts-provisioning: provisioning of srv1 failed"),
            std::string::npos)
      << mails[0];
  EXPECT_NE(mails[0].find(MessageIdOf(ping)), std::string::npos) << mails[0];
  proto::Delivery email = On(ping, "email");
  EXPECT_EQ(email.reason(), "fallback_after");
  EXPECT_GE(email.added_ms() - Entry(ping).recorded_ms(), 300);
  EXPECT_EQ(email.last_status(), 250);
  // Discord is still down: the ping waits there too; the note is never emailed.
  EXPECT_TRUE(Is(ping, "pending"));
  EXPECT_EQ(On(quiet, "email").route(), "");
}

TEST_F(DispatcherEmailTest, ARefusalReroutesAPingToEmail) {
  ASSERT_EQ(SimPost(sim_, "/sim/faults", R"({"discordWebhookDeleted": "alerts-critical"})"), 200);
  uint64_t ping = Enqueue("alerts-critical", "agent offline on mc-2", true);
  uint64_t quiet = Enqueue("alerts-critical", "a note", false);
  Start(WithEmail(Millis(3'600'000)), {}, &mailer_);
  ASSERT_TRUE(Eventually(
      [&] { return On(ping, "email").state() == proto::DELIVERY_DELIVERED && Is(quiet, "failed"); },
      20s));
  proto::Delivery refused = Discord(ping);
  EXPECT_EQ(refused.state(), proto::DELIVERY_FAILED);
  EXPECT_EQ(refused.attempts(), 1u);
  EXPECT_EQ(refused.last_status(), 404);
  EXPECT_NE(refused.last_error().find("10015"), std::string::npos) << refused.last_error();
  EXPECT_EQ(On(ping, "email").reason(), "refused");
  EXPECT_TRUE(Is(ping, "failed"));  // Discord refused it, whatever email did
  EXPECT_EQ(On(quiet, "email").route(), "");
  EXPECT_EQ(smtp_.Messages().size(), 1u);
  EXPECT_TRUE(Eventually([&] {
    Snapshot s = Snap();
    return s.failing == std::vector<std::string>{"alerts-critical"} && s.counters.failed == 2 &&
           s.counters.delivered == 1;
  }));
}

}  // namespace
}  // namespace zlh::notify
