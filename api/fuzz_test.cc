// Hostile requests against the API's decoding and routing (SPEC §8.8): rapidcheck generates
// methods, paths, tokens, content types and bodies (valid JSON of the wrong shape, fields of the
// wrong type, unknown fields, deep nesting, invalid UTF-8 and plain garbage) and hostile billing
// signature headers (run under UBSan in the sanitizer build); at least 100,000
// per run. Each must get an answer with a JSON body of the error shape when it fails, never an
// exception, and a refused request must leave the journal exactly as it was.
//
// The seed prints first (RC_PARAMS="seed=S" reruns the same requests); ZLH_FUZZ_REQUESTS sets how
// many (default 100,000).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <map>

#include "api/api_fixture.h"

namespace zlh::api {
namespace {

namespace json = boost::json;

rc::Gen<std::string> Segment() {
  return rc::gen::oneOf(
      rc::gen::element<std::string>("api", "servers", "create", "workflows", "history", "cancel",
                                    "signals", "retry", "repairs", "approve", "admin", "backup",
                                    "billing", "webhook", "operations", "maintenance", "healthz",
                                    "metrics", "nodes", "pve1", "srv-1", "..", "%00", "", "\xff\xfe"),
      rc::gen::resize(16, rc::gen::string<std::string>()));
}

rc::Gen<std::string> Path() {
  return rc::gen::oneOf(
      rc::gen::element<std::string>(
          "/api/servers/create", "/api/servers", "/api/servers/srv-1", "/api/servers/srv-1/operations",
          "/api/servers/srv-1/maintenance", "/api/workflows", "/api/workflows/W1",
          "/api/workflows/W1/history", "/api/workflows/W1/cancel", "/api/workflows/W1/signals/go",
          "/api/workflows/W1/retry", "/api/repairs/W1/approve", "/api/admin/backup",
          "/api/billing/webhook", "/api/nodes", "/api/nodes/pve1/maintenance", "/healthz",
          "/metrics"),
      rc::gen::map(rc::gen::resize(8, rc::gen::container<std::vector<std::string>>(Segment())),
                   [](const std::vector<std::string>& segments) {
                     std::string p;
                     for (const auto& s : segments) p += "/" + s;
                     return p.empty() ? "/" : p;
                   }));
}

// JSON values, nested a little, with the API's field names among the keys.
rc::Gen<json::value> Value(int depth) {
  auto scalar = rc::gen::oneOf(
      rc::gen::just(json::value(nullptr)), rc::gen::map(rc::gen::arbitrary<bool>(), [](bool b) { return json::value(b); }),
      rc::gen::map(rc::gen::arbitrary<int64_t>(), [](int64_t v) { return json::value(v); }),
      rc::gen::map(rc::gen::arbitrary<double>(), [](double v) { return json::value(v); }),
      rc::gen::map(rc::gen::string<std::string>(), [](std::string s) { return json::value(s); }),
      rc::gen::map(rc::gen::element<std::string>("game", "dev", "vanilla", "small", "c-1", "n1",
                                                 "survival", "start", "restore", "/tmp/x"),
                   [](std::string s) { return json::value(s); }));
  if (depth <= 0) return scalar;
  auto key = rc::gen::oneOf(
      rc::gen::element<std::string>("customerId", "ctype", "requestNonce", "game", "plan", "name",
                                    "op", "backupId", "on", "reason", "dir", "id", "type",
                                    "createdAt"),
      rc::gen::string<std::string>());
  return rc::gen::oneOf(
      scalar,
      rc::gen::map(rc::gen::container<std::vector<std::pair<std::string, json::value>>>(
                       rc::gen::pair(key, Value(depth - 1))),
                   [](const std::vector<std::pair<std::string, json::value>>& kv) {
                     json::object o;
                     for (const auto& [k, v] : kv) o[k] = v;
                     return json::value(std::move(o));
                   }),
      rc::gen::map(rc::gen::container<std::vector<json::value>>(Value(depth - 1)),
                   [](const std::vector<json::value>& items) {
                     return json::value(json::array(items.begin(), items.end()));
                   }));
}

rc::Gen<std::string> Body() {
  return rc::gen::oneOf(
      rc::gen::just(std::string()),
      // Small containers and strings: sizes stay in the tens, so 100,000 requests take seconds.
      rc::gen::map(rc::gen::resize(8, Value(3)), [](const json::value& v) { return json::serialize(v); }),
      rc::gen::resize(64, rc::gen::string<std::string>()),
      rc::gen::map(rc::gen::inRange(1, 2000), [](int n) {
        return std::string(static_cast<size_t>(n), '[') + std::string(static_cast<size_t>(n), ']');
      }),
      rc::gen::just(std::string(R"({"customerId":"c-1","ctype":"game","requestNonce":"n1","game":"vanilla","plan":"small","name":"survival","extra":1})")),
      // Valid, so that some requests get through to the engine (and may change state).
      rc::gen::map(rc::gen::inRange(0, 20), [](int n) {
        return R"({"customerId":"c-1","ctype":"game","requestNonce":"n)" + std::to_string(n) +
               R"(","game":"vanilla","plan":"small","name":"srv-)" + std::to_string(n) + "\"}";
      }));
}

// X-ZLH-Signature values an attacker would try: extreme and malformed timestamps (the overflow
// of a naive |now - t|), wrong hex, repeated and unknown parts, and anything at all.
rc::Gen<std::string> SignatureHeader() {
  return rc::gen::oneOf(
      rc::gen::element<std::string>("t=-9223372036854775808,v1=00", "t=9223372036854775807,v1=ab",
                                    "t=,v1=", "t=1e9,v1=0", ",,,,", "t=1,t=2,v1=00", ""),
      rc::gen::map(rc::gen::pair(rc::gen::arbitrary<int64_t>(), rc::gen::resize(70, rc::gen::string<std::string>())),
                   [](const std::pair<int64_t, std::string>& p) {
                     return "t=" + std::to_string(p.first) + ",v1=" + p.second;
                   }),
      rc::gen::resize(80, rc::gen::string<std::string>()));
}

using FuzzTest = ApiFixture;

TEST_F(FuzzTest, HostileRequestsGetAnAnswerAndRefusalsChangeNothing) {
  // The workflow types the routes start, doing nothing: the fuzzing is about the API.
  RegisterNoOps({"provision", "operation", "deprovision"});
  auto api = MakeApi();
  std::string portal = tokens_.TokenOf(Role::kPortal), admin = tokens_.TokenOf(Role::kAdmin);
  long requests = 0;
  std::map<int, long> by_status;

  using Shape = std::tuple<std::string, std::string, int, int, std::string>;
  // Anything at all, or a real route with its method, a valid token and the JSON media type (so
  // that the bodies reach the handlers' own checks, and some requests succeed).
  auto anything = rc::gen::tuple(
      rc::gen::element<std::string>("GET", "POST", "PUT", "DELETE", "PATCH", "BREW"), Path(),
      rc::gen::inRange(0, 4), rc::gen::inRange(0, 3), Body());
  using Route = std::pair<std::string, std::string>;
  static const std::vector<Route> kRoutes = {
      {"POST", "/api/servers/create"},         {"POST", "/api/servers/create"},
      {"POST", "/api/servers/srv-1/operations"}, {"DELETE", "/api/servers/srv-1"},
      {"PUT", "/api/servers/srv-1/maintenance"}, {"POST", "/api/admin/backup"},
      {"POST", "/api/workflows/W1/signals/go"},  {"POST", "/api/workflows/W1/cancel"},
      {"POST", "/api/billing/webhook"},          {"GET", "/api/workflows"},
      {"PUT", "/api/nodes/pve1/maintenance"}};
  auto routed = rc::gen::map(
      rc::gen::tuple(rc::gen::elementOf(kRoutes), rc::gen::inRange(1, 3), Body()),
      [](const std::tuple<Route, int, std::string>& t) {
        return Shape{std::get<0>(t).first, std::get<0>(t).second, std::get<1>(t), 1, std::get<2>(t)};
      });
  auto property = [&] {
    const auto [method, path, auth, type, body] = *rc::gen::oneOf(anything, routed);
    {
      Request req;
      req.method = method;
      req.path = path;
      req.target = path;
      req.body = body;
      if (auth == 1) req.headers["authorization"] = "Bearer " + portal;
      if (auth == 2) req.headers["authorization"] = "Bearer " + admin;
      if (auth == 3) req.headers["authorization"] = "Bearer " + body.substr(0, 40);
      if (type == 1) req.headers["content-type"] = "application/json";
      if (type == 2) req.headers["content-type"] = "text/plain";
      req.query["customerId"] = "c-1";
      if (path == "/api/billing/webhook") req.headers["x-zlh-signature"] = *SignatureHeader();
      uint64_t before = journal_->LatestPosition();
      Response r = Await(api->Handle(req));
      ++requests;
      ++by_status[r.status];
      RC_ASSERT(r.status >= 200);
      RC_ASSERT(r.status < 600);
      RC_ASSERT(r.status != 500);
      if (r.status >= 400) {
        boost::system::error_code ec;
        json::value v = json::parse(r.body, ec);
        RC_ASSERT(!ec);
        RC_ASSERT(v.is_object() && v.as_object().contains("error"));
        RC_ASSERT(journal_->LatestPosition() == before);
      } else {
        // What it started runs to its end now, so that it does not write during the next one.
        RC_ASSERT(RunUntil([&] { return engine_->live_count() == 0; }));
      }
    }
  };
  const char* env = std::getenv("ZLH_FUZZ_REQUESTS");
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  params.maxSuccess = env ? std::max(1, std::atoi(env)) : 100'000;
  params.disableShrinking = true;
  rc::detail::TestMetadata metadata;
  metadata.id = "FuzzTest/HostileRequestsGetAnAnswerAndRefusalsChangeNothing";
  auto result = rc::detail::checkTestable(property, metadata, params);
  if (!result.template is<rc::detail::SuccessResult>()) {
    std::ostringstream ss;
    rc::detail::printResultMessage(result, ss);
    FAIL() << ss.str();
  }
  std::cout << requests << " requests:";
  for (const auto& [status, n] : by_status) std::cout << " " << status << "×" << n;
  std::cout << std::endl;
  EXPECT_GE(requests, params.maxSuccess);
}

}  // namespace
}  // namespace zlh::api
