// The API's plumbing: routing (405 with Allow, literal segments before parameters), strict JSON
// bodies, and the tokens file (created 0600 once, malformed files refused naming the line, at most
// two tokens per role).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "api/json_body.h"
#include "api/router.h"
#include "api/tokens.h"
#include "base/temp_dir.h"

namespace zlh::api {
namespace {

Response Dispatch(const Router& router, std::string method, std::string path) {
  boost::asio::io_context io;
  Request req;
  req.method = std::move(method);
  req.path = std::move(path);
  auto f = boost::asio::co_spawn(io, router.Dispatch(req), boost::asio::use_future);
  io.run();
  return f.get();
}

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

RouteFn Answer(std::string text) {
  return [text](const Request&, const PathParams& p) -> Task<Response> {
    Response r;
    r.body = text;
    for (const auto& [k, v] : p) r.body += " " + k + "=" + v;
    co_return r;
  };
}

TEST(RouterTest, MatchesPatternsAndAnswers405WithAllow) {
  Router router;
  router.Add("POST", "/api/servers/create", Answer("create"));
  router.Add("GET", "/api/servers/{serverId}", Answer("get"));
  router.Add("DELETE", "/api/servers/{serverId}", Answer("delete"));
  EXPECT_EQ(Dispatch(router, "GET", "/api/servers/s-1").body, "get serverId=s-1");
  EXPECT_EQ(Dispatch(router, "DELETE", "/api/servers/s-1").body, "delete serverId=s-1");
  EXPECT_EQ(Dispatch(router, "POST", "/api/servers/create").body, "create");
  // The literal route decides for its own path: GET on it is 405, not a server named "create".
  Response wrong = Dispatch(router, "GET", "/api/servers/create");
  EXPECT_EQ(wrong.status, 405);
  ASSERT_EQ(wrong.headers.size(), 1u);
  EXPECT_EQ(wrong.headers[0].second, "POST");
  Response put = Dispatch(router, "PUT", "/api/servers/s-1");
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.headers[0].second, "GET, DELETE");
  EXPECT_EQ(Dispatch(router, "GET", "/api/servers/s-1/extra").status, 404);
  EXPECT_EQ(Router().Routes().size(), 0u);
  EXPECT_EQ(router.Routes().size(), 3u);
}

TEST(JsonBodyTest, RefusesWhatIsNotExactlyTheSchema) {
  EXPECT_NE(JsonBody::Parse("{", {"a"}).status().message().find("malformed JSON"), std::string::npos);
  EXPECT_NE(JsonBody::Parse("3", {"a"}).status().message().find("object"), std::string::npos);
  EXPECT_EQ(JsonBody::Parse(R"({"b": 1})", {"a"}).status().message(), "b: unknown field");
  auto body = JsonBody::Parse(R"({"a": "x", "n": 5, "f": true})", {"a", "n", "f", "m"});
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(**body->String("a", true), "x");
  EXPECT_EQ(body->String("n", true).status().message(), "n: must be a string");
  EXPECT_EQ(body->String("m", true).status().message(), "m: required");
  EXPECT_FALSE(body->String("m", false)->has_value());
  EXPECT_EQ(**body->Bool("f", true), true);
  EXPECT_TRUE(CheckIdentifier("x", "c-1_A").ok());
  EXPECT_FALSE(CheckIdentifier("x", "").ok());
  EXPECT_FALSE(CheckIdentifier("x", std::string(129, 'a')).ok());
  EXPECT_FALSE(CheckIdentifier("x", "a b").ok());
  EXPECT_TRUE(CheckDnsLabel("name", "survival-1").ok());
  EXPECT_FALSE(CheckDnsLabel("name", "ab").ok());
  EXPECT_FALSE(CheckDnsLabel("name", "-abc").ok());
  EXPECT_FALSE(CheckDnsLabel("name", "Upper").ok());
}

TEST(TokensTest, FirstStartWritesAPrivateFileThatLaterStartsRead) {
  TempDir tmp;
  std::string path = tmp.Sub("tokens");
  bool created = false;
  auto first = Tokens::LoadOrCreate(path, &created);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(created);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = Tokens::LoadOrCreate(path, &created);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(created);
  std::string portal = again->TokenOf(Role::kPortal);
  EXPECT_EQ(portal, first->TokenOf(Role::kPortal));
  EXPECT_EQ(again->webhook_secret().size(), 48u);
  Request req;
  req.headers["authorization"] = "Bearer " + portal;
  EXPECT_EQ(again->Authenticate(req), Role::kPortal);
  req.headers["authorization"] = "Bearer " + again->TokenOf(Role::kAdmin);
  EXPECT_EQ(again->Authenticate(req), Role::kAdmin);
  req.headers["authorization"] = "Bearer " + portal + "x";
  EXPECT_EQ(again->Authenticate(req), Role::kNone);
  req.headers["authorization"] = portal;
  EXPECT_EQ(again->Authenticate(req), Role::kNone);
}

TEST(TokensTest, AMalformedFileIsRefusedNamingTheLine) {
  TempDir tmp;
  std::string path = tmp.Sub("tokens");
  std::ofstream(path) << "admin 0123456789abcdef0123\nroot 0123456789abcdef0123\n";
  bool created = false;
  auto t = Tokens::LoadOrCreate(path, &created);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("line 2"), std::string::npos) << t.status().message();
  EXPECT_NE(t.status().message().find("root"), std::string::npos);
  std::ofstream(path) << "admin short\n";
  EXPECT_NE(Tokens::LoadOrCreate(path, &created).status().message().find("16 characters"),
            std::string::npos);
}

// Rotation (SPEC §11): a role may have two tokens, both valid; a third is refused naming its line
// and the other two; a secret on two lines is refused.
TEST(TokensTest, ARoleHasAtMostTwoTokensAndEverySecretIsDifferent) {
  TempDir tmp;
  std::string path = tmp.Sub("tokens");
  const std::string webhook = "webhook " + std::string(40, 'w') + "\n";
  std::ofstream(path) << "# rotating the admin token\nadmin old-admin-0123456789\n"
                         "admin new-admin-0123456789\nportal portal-0123456789ab\n"
                      << webhook;
  auto two = Tokens::Load(path);
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_EQ(two->Count(Role::kAdmin), 2);
  EXPECT_EQ(two->Count(Role::kPortal), 1);
  Request req;
  for (const char* token : {"old-admin-0123456789", "new-admin-0123456789"}) {
    req.headers["authorization"] = std::string("Bearer ") + token;
    EXPECT_EQ(two->Authenticate(req), Role::kAdmin) << token;
  }

  std::ofstream(path) << "admin a-0123456789abcdef\n\nadmin b-0123456789abcdef\n"
                         "admin c-0123456789abcdef\n"
                      << webhook;
  auto three = Tokens::Load(path);
  ASSERT_FALSE(three.ok());
  EXPECT_EQ(three.status().message(),
            path + " line 4: a third admin token (lines 1 and 3 hold two): at most two per "
                   "role, the new one and the old one while it is rotated");

  std::ofstream(path) << "admin same-0123456789abcdef\nportal same-0123456789abcdef\n" << webhook;
  EXPECT_NE(Tokens::Load(path).status().message().find("line 2: the same secret as line 1"),
            std::string::npos);
  std::ofstream(path) << "admin a-0123456789abcdef\n" << webhook << webhook;
  EXPECT_NE(Tokens::Load(path).status().message().find("line 3: a second webhook secret"),
            std::string::npos);
}

// Load reads the file as it is: one without a webhook line is refused, not completed.
TEST(TokensTest, LoadWritesNothing) {
  TempDir tmp;
  std::string path = tmp.Sub("tokens");
  EXPECT_EQ(Tokens::Load(path).status().code(), Code::kIOError);
  EXPECT_FALSE(std::filesystem::exists(path));
  std::ofstream(path) << "admin a-0123456789abcdef\n";
  auto loaded = Tokens::Load(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("no webhook line"), std::string::npos);
  EXPECT_EQ(ReadFileText(path), "admin a-0123456789abcdef\n");
}

TEST(TokensTest, CompareCountsWhatChangedWithoutSayingIt) {
  TempDir tmp;
  std::string path = tmp.Sub("tokens");
  const std::string webhook = "webhook " + std::string(40, 'w') + "\n";
  std::ofstream(path) << "admin old-admin-0123456789\nportal portal-0123456789ab\n" << webhook;
  auto before = Tokens::Load(path);
  std::ofstream(path) << "admin new-admin-0123456789\nportal portal-0123456789ab\n"
                      << "webhook " << std::string(40, 'x') << "\n";
  auto after = Tokens::Load(path);
  ASSERT_TRUE(before.ok() && after.ok());
  TokenChanges changes = Compare(*before, *after);
  EXPECT_EQ(changes.added, 1);
  EXPECT_EQ(changes.removed, 1);
  EXPECT_TRUE(changes.webhook_changed);
  TokenChanges none = Compare(*after, *after);
  EXPECT_EQ(none.added + none.removed, 0);
  EXPECT_FALSE(none.webhook_changed);
}

}  // namespace
}  // namespace zlh::api
