// The API's security boundary (SPEC §7.1, issue "Hardening"): every portal request is scoped to a
// well-formed customer and never reads another's data; the billing webhook never runs on a missing
// or short secret and refuses hostile signature headers; a 500 says nothing about the inside; the
// admin backup writes only under its root; a suspended customer may only stop and back up.
// In-process: the real Api over a real journal and engine (the HTTP layer has its own tests).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <regex>

#include "api/admin_api.h"
#include "api/api_fixture.h"
#include "api/errors.h"
#include "fleet/tables.h"
#include "journal/journal.h"

namespace zlh::api {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

class SecurityTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    RegisterNoOps({"provision", "operation", "deprovision"});
    api_ = MakeApi();
  }

  Response Call(const std::string& method, const std::string& path, const std::string& body = "",
                Role role = Role::kPortal, std::map<std::string, std::string> query = {}) {
    Request req;
    req.method = method;
    req.path = path;
    req.target = path;
    req.body = body;
    req.query = std::move(query);
    if (role != Role::kNone) req.headers["authorization"] = "Bearer " + tokens_.TokenOf(role);
    if (!body.empty()) req.headers["content-type"] = "application/json";
    return Await(api_->Handle(req));
  }
  json::object Body(const Response& r) { return json::parse(r.body).as_object(); }
  // Creates a server of `customer` (its provisioning does nothing): the server's id.
  std::string Created(const std::string& customer, const std::string& name) {
    Response r = Call("POST", "/api/servers/create",
                      R"({"customerId":")" + customer + R"(","ctype":"game","requestNonce":")" + name +
                          R"(","game":"vanilla","plan":"small","name":")" + name + "\"}");
    EXPECT_EQ(r.status, 202) << r.body;
    EXPECT_TRUE(RunUntil([&] { return engine_->live_count() == 0; }));
    return std::string(Body(r)["serverId"].as_string());
  }
  std::string WorkflowOf(const std::string& customer, const std::string& name) {
    Response r = Call("POST", "/api/servers/create",
                      R"({"customerId":")" + customer + R"(","ctype":"game","requestNonce":")" + name +
                          R"(","game":"vanilla","plan":"small","name":")" + name + "\"}");
    return std::string(Body(r)["workflowId"].as_string());
  }
  // Sets the server's status as a finished provisioning would.
  void SetStatus(const std::string& server_id, proto::ServerStatus status) {
    Status s = journal_->AppendSync({}, [&](journal::Txn& t) -> Status {
      auto server = fleet::GetServer(t, server_id);
      if (!server.ok()) return server.status();
      (*server)->set_status(status);
      return fleet::PutServer(t, **server);
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void Suspend(const std::string& customer) {
    Status s = journal_->AppendSync({}, [&](journal::Txn& t) -> Status {
      return fleet::ApplyBillingEvent(t, "evt-" + customer, customer, "suspended", "{}").status();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // Every portal route with the customer id it carries set to `id`: the answers.
  std::vector<Response> EveryPortalRoute(const std::string& server, const std::string& workflow,
                                         const std::string& id) {
    std::string quoted = json::serialize(json::value(id));
    return {
        Call("GET", "/api/servers", "", Role::kPortal, {{"customerId", id}}),
        Call("GET", "/api/servers/" + server, "", Role::kPortal, {{"customerId", id}}),
        Call("DELETE", "/api/servers/" + server, "", Role::kPortal, {{"customerId", id}}),
        Call("GET", "/api/workflows/" + workflow, "", Role::kPortal, {{"customerId", id}}),
        Call("POST", "/api/servers/" + server + "/operations",
               R"({"customerId":)" + quoted + R"(,"op":"start","requestNonce":"o1"})"),
        Call("POST", "/api/servers/create",
               R"({"customerId":)" + quoted +
                   R"(,"ctype":"game","requestNonce":"r9","game":"vanilla","plan":"small","name":"other"})"),
    };
  }

  std::unique_ptr<Api> api_;
};

TEST_F(SecurityTest, EveryPortalRouteRefusesAnEmptyOrMalformedCustomerId) {
  std::string server = Created("c-1", "alpha");
  std::string workflow = WorkflowOf("c-1", "alpha");  // the same request: its first answer
  uint64_t before = journal_->LatestPosition();
  for (const std::string& bad : std::vector<std::string>{"", "c 1", "c-1'", "../c-1", std::string(129, 'c'), "c-1\n"}) {
    for (const Response& r : EveryPortalRoute(server, workflow, bad)) {
      EXPECT_EQ(r.status, 400) << "customerId '" << bad << "': " << r.body;
      EXPECT_NE(r.body.find("customerId"), std::string::npos) << r.body;
    }
  }
  EXPECT_EQ(journal_->LatestPosition(), before) << "a refused request changed the journal";
  // A portal read without the parameter at all is refused too.
  EXPECT_EQ(Call("GET", "/api/servers").status, 400);
  EXPECT_EQ(Call("GET", "/api/servers/" + server).status, 400);
}

TEST_F(SecurityTest, APortalNeverSeesAnotherCustomersServersOrWorkflows) {
  std::string mine = Created("c-1", "alpha");
  std::string theirs = Created("c-2", "beta");
  std::string their_workflow = WorkflowOf("c-2", "beta");
  SetStatus(theirs, proto::SERVER_RUNNING);
  std::vector<Response> answers = EveryPortalRoute(theirs, their_workflow, "c-1");
  // The list holds c-1's own server only; every route on c-2's things is 404.
  json::array listed = Body(answers[0])["servers"].as_array();
  ASSERT_EQ(listed.size(), 1u) << answers[0].body;
  EXPECT_EQ(listed[0].at("serverId").as_string(), mine);
  for (size_t i = 1; i < 5; ++i) EXPECT_EQ(answers[i].status, 404) << i << ": " << answers[i].body;
  EXPECT_EQ(answers[5].status, 202) << "c-1's own create, unaffected: " << answers[5].body;
  EXPECT_EQ(answers[1].body.find("beta"), std::string::npos) << "another's server was revealed";
  // A customer that owns nothing gets an empty list, not an error and not everyone's.
  Response nobody = Call("GET", "/api/servers", "", Role::kPortal, {{"customerId", "c-404"}});
  EXPECT_EQ(nobody.status, 200) << nobody.body;
  EXPECT_TRUE(Body(nobody)["servers"].as_array().empty()) << nobody.body;
}

TEST_F(SecurityTest, TheAdminListOfEveryServerIsPagedNewestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Created("c-" + std::to_string(i), "srv-" + std::to_string(i)));
  std::vector<std::string> seen;
  std::map<std::string, std::string> query{{"limit", "2"}};
  for (int page = 0; page < 10; ++page) {
    Response r = Call("GET", "/api/servers", "", Role::kAdmin, query);
    ASSERT_EQ(r.status, 200) << r.body;
    json::object b = Body(r);
    EXPECT_LE(b["servers"].as_array().size(), 2u);
    for (const auto& s : b["servers"].as_array()) seen.emplace_back(s.at("serverId").as_string());
    if (!b.contains("next")) break;
    query["after"] = std::string(b["next"].as_string());
  }
  std::vector<std::string> newest_first(ids.rbegin(), ids.rend());
  EXPECT_EQ(seen, newest_first);
  EXPECT_EQ(Call("GET", "/api/servers", "", Role::kAdmin, {{"limit", "0"}}).status, 400);
  EXPECT_EQ(Call("GET", "/api/servers", "", Role::kAdmin, {{"limit", "1x"}}).status, 400);
  EXPECT_EQ(Call("GET", "/api/servers", "", Role::kAdmin, {{"customerId", ""}}).status, 400);
}

TEST_F(SecurityTest, ASuspendedCustomerMayOnlyStopAndBackUp) {
  std::string server = Created("c-1", "alpha");
  SetStatus(server, proto::SERVER_RUNNING);
  Suspend("c-1");
  auto op = [&](const std::string& name, const std::string& nonce) {
    return Call("POST", "/api/servers/" + server + "/operations",
                R"({"customerId":"c-1","op":")" + name + R"(","requestNonce":")" + nonce + "\"}");
  };
  for (const char* refused : {"start", "restart", "restore"}) {
    Response r = op(refused, std::string("n-") + refused);
    EXPECT_EQ(r.status, 402) << refused << ": " << r.body;
    EXPECT_NE(r.body.find("billing_suspended"), std::string::npos);
  }
  EXPECT_EQ(op("backup", "n-backup").status, 202);
  ASSERT_TRUE(RunUntil([&] { return engine_->live_count() == 0; }));
  EXPECT_EQ(op("stop", "n-stop").status, 202);
}

TEST_F(SecurityTest, AnInternalErrorAnswersAnIdAndNothingOfTheInside) {
  Response r = ErrorResponse(Status(Code::kIOError, "/var/lib/zlh/journal/000042.sst: rocksdb IO error"));
  EXPECT_EQ(r.status, 500);
  json::object error = Body(r)["error"].as_object();
  EXPECT_EQ(error["code"].as_string(), "internal");
  std::string message(error["message"].as_string());
  EXPECT_TRUE(std::regex_match(message, std::regex("internal error [0-9A-Z]{26}"))) << message;
  EXPECT_EQ(r.body.find("sst"), std::string::npos) << r.body;
  EXPECT_EQ(ErrorResponse(Status(Code::kCorruption, "/secret")).body.find("secret"), std::string::npos);
  // Two errors are told apart by their ids.
  EXPECT_NE(ErrorResponse(Status(Code::kInternal, "x")).body, ErrorResponse(Status(Code::kInternal, "x")).body);
}

// ---- the billing webhook's secret ----

TEST(WebhookSecretTest, ATokensFileWithoutAWebhookLineGetsOneGeneratedAndKeptPrivate) {
  TempDir dir;
  std::string path = dir.Sub("tokens");
  std::ofstream(path) << "admin 0123456789abcdef0123\nportal fedcba9876543210fedc";  // no newline
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  bool created = true;
  auto tokens = Tokens::LoadOrCreate(path, &created);
  ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
  EXPECT_FALSE(created);
  EXPECT_TRUE(tokens->webhook_generated());
  EXPECT_GE(tokens->webhook_secret().size(), 32u);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The secret is in the file now: the next start reads the same one and generates nothing.
  auto again = Tokens::LoadOrCreate(path, &created);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->webhook_secret(), tokens->webhook_secret());
  EXPECT_FALSE(again->webhook_generated());
  EXPECT_EQ(again->TokenOf(Role::kPortal), "fedcba9876543210fedc");
}

TEST(WebhookSecretTest, AShortWebhookSecretIsRefused) {
  TempDir dir;
  std::string path = dir.Sub("tokens");
  std::ofstream(path) << "admin 0123456789abcdef0123\nwebhook 0123456789abcdef\n";
  bool created = false;
  auto tokens = Tokens::LoadOrCreate(path, &created);
  ASSERT_FALSE(tokens.ok());
  EXPECT_NE(tokens.status().message().find("line 2"), std::string::npos) << tokens.status().message();
  EXPECT_NE(tokens.status().message().find("32"), std::string::npos) << tokens.status().message();
  auto config = config::Parse(R"({"billing": {"webhookSecret": "short-secret-0123456789"}})");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("billing.webhookSecret"), std::string::npos);
}

TEST(WebhookSecretTest, AnEmptyOrShortSecretNeverAcceptsASignature) {
  const std::string body = R"({"id":"e1"})";
  for (const std::string& secret : {std::string(), std::string("k"), std::string(31, 'k')}) {
    Status s = CheckWebhookSignature(SignWebhook(body, secret, 1000), body, secret, 1000);
    EXPECT_FALSE(s.ok()) << "secret of " << secret.size() << " characters was used";
  }
  const std::string good(32, 'k');
  EXPECT_TRUE(CheckWebhookSignature(SignWebhook(body, good, 1000), body, good, 1000).ok());
}

TEST(WebhookSignatureTest, HostileHeadersAreRefusedWithoutArithmeticOnThem) {
  const std::string body = "{}", secret(40, 's');
  const int64_t now = 1'800'000'000;
  std::string v1 = SignWebhook(body, secret, now).substr(std::string("t=1800000000,").size());
  for (const std::string& header : std::vector<std::string>{
       "t=-9223372036854775808," + v1, "t=9223372036854775807," + v1, "t=-1," + v1,
        "t=+1800000000," + v1, "t=1800000000 ," + v1, "t=99999999999999999999999," + v1,
        "t=1e9," + v1, "t=," + v1, "t=1800000000", "t=1800000000,v1=", "t=1800000000,v1=zz",
        "t=1800000000," + v1 + "0", "t=1800000000,t=1800000000," + v1, ",,,,,,,,,,,,,,",
        std::string("t=1800000000,") + v1 + ",x=1", std::string(10'000, ','), "v1=" + v1}) {
    Status s = CheckWebhookSignature(header, body, secret, now);
    EXPECT_FALSE(s.ok()) << header;
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << header;
  }
  EXPECT_TRUE(CheckWebhookSignature("t=1800000000," + v1, body, secret, now).ok());
  EXPECT_FALSE(CheckWebhookSignature("t=1800000000," + v1, body, secret, INT64_MIN).ok());
}

// ---- where a backup may go ----

TEST(BackupTargetTest, OnlyANewDirectoryUnderTheRoot) {
  TempDir dir;
  std::string root = dir.Sub("backups");
  fs::create_directories(dir.Sub("outside"));
  auto relative = BackupTarget(root, "daily-1");
  ASSERT_TRUE(relative.ok()) << relative.status().ToString();
  EXPECT_EQ(*relative, fs::canonical(root) / "daily-1");
  fs::create_directories(root + "/nested");
  auto absolute = BackupTarget(root, root + "/nested/b");
  ASSERT_TRUE(absolute.ok()) << absolute.status().ToString();
  EXPECT_EQ(*absolute, fs::canonical(root) / "nested" / "b");
  fs::create_symlink(dir.Sub("outside"), root + "/escape");
  fs::create_directories(root + "/taken");
  for (const std::string& bad : std::vector<std::string>{"../outside/x", "nested/../../outside/x", dir.Sub("outside/x"),
                                "/tmp/x", "escape/x", "taken", "missing/x", root, ""}) {
    auto target = BackupTarget(root, bad);
    EXPECT_FALSE(target.ok()) << "'" << bad << "' gave " << (target.ok() ? target->string() : "");
    if (!target.ok()) EXPECT_EQ(target.status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(fs::is_empty(dir.Sub("outside")));
}

TEST_F(SecurityTest, AdminBackupWritesUnderTheRootAndRefusesEverywhereElse) {
  Created("c-1", "alpha");
  Response ok = Call("POST", "/api/admin/backup", R"({"dir":"b1"})", Role::kAdmin);
  ASSERT_EQ(ok.status, 200) << ok.body;
  fs::path written(std::string(Body(ok)["path"].as_string()));
  EXPECT_EQ(written, fs::canonical(tokens_dir_.Sub("backups")) / "b1");
  EXPECT_TRUE(fs::exists(written / "journal" / "CURRENT")) << "not a checkpoint: " << written;
  EXPECT_TRUE(fs::exists(written / "tokens")) << "no tokens file in " << written;
  auto copy = journal::Journal::Open((written / "journal").string());
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_TRUE(fleet::ListServers(**copy)->size() == 1);
  for (const char* bad : {R"({"dir":"b1"})", R"({"dir":"../b2"})", R"({"dir":"/tmp/zlh-b3"})"}) {
    Response r = Call("POST", "/api/admin/backup", bad, Role::kAdmin);
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
  }
  EXPECT_FALSE(fs::exists("/tmp/zlh-b3"));
  EXPECT_EQ(Call("POST", "/api/admin/backup", R"({"dir":"b4"})", Role::kPortal).status, 403);
}

}  // namespace
}  // namespace zlh::api
