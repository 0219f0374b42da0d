// The Api's routes as a whole: api/openapi.yaml documents exactly the routes served, and once the
// journal has failed every write answers 503 (and /healthz says so) instead of acting.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>

#include "api/api_fixture.h"

namespace zlh::api {
namespace {

using RoutesTest = ApiFixture;

std::set<std::pair<std::string, std::string>> Documented() {
  std::ifstream in(ZLH_OPENAPI);
  std::set<std::pair<std::string, std::string>> out;
  std::string line, path;
  std::regex path_line(R"(^  (/\S*):\s*$)");
  std::regex method_line(R"(^    (get|put|post|delete|patch):\s*$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, path_line)) {
      path = m[1];
    } else if (!path.empty() && std::regex_match(line, m, method_line)) {
      std::string method = m[1];
      for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out.emplace(method, path);
    } else if (!line.empty() && line[0] != ' ') {
      path.clear();  // a top-level key after paths:
    }
  }
  return out;
}

TEST_F(RoutesTest, EveryRouteIsDocumentedAndNothingElse) {
  auto api = MakeApi();
  std::set<std::pair<std::string, std::string>> served;
  for (const auto& r : api->router().Routes()) served.insert(r);
  std::set<std::pair<std::string, std::string>> documented = Documented();
  ASSERT_GE(documented.size(), 10u) << "could not read " << ZLH_OPENAPI;
  for (const auto& r : served) {
    EXPECT_TRUE(documented.count(r)) << r.first << " " << r.second << " is not in api/openapi.yaml";
  }
  for (const auto& r : documented) {
    EXPECT_TRUE(served.count(r)) << r.first << " " << r.second << " is documented but not served";
  }
}

TEST_F(RoutesTest, AFailedJournalAnswers503AndHealthzSaysSo) {
  RegisterNoOps({"provision"});
  journal_options_.fault_before_write = [](size_t) { return Status(Code::kIOError, "disk gone"); };
  Restart();
  auto api = MakeApi();
  Request create;
  create.method = "POST";
  create.path = "/api/servers/create";
  create.headers = {{"authorization", "Bearer " + tokens_.TokenOf(Role::kPortal)},
                    {"content-type", "application/json"}};
  create.body = R"({"customerId":"c-1","ctype":"game","requestNonce":"n1","game":"vanilla","plan":"small","name":"survival"})";
  Response first = Await(api->Handle(create));  // the write fails: the journal fail-stops
  EXPECT_EQ(first.status, 503) << first.body;
  EXPECT_NE(first.body.find("\"unavailable\""), std::string::npos) << first.body;
  create.body = R"({"customerId":"c-1","ctype":"game","requestNonce":"n2","game":"vanilla","plan":"small","name":"other"})";
  Response second = Await(api->Handle(create));
  EXPECT_EQ(second.status, 503) << second.body;
  Request health;
  health.method = "GET";
  health.path = "/healthz";
  EXPECT_EQ(Await(api->Handle(health)).status, 503);
}

}  // namespace
}  // namespace zlh::api
