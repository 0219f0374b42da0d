// api/openapi.yaml documents exactly the routes zlhd serves: every route the Api registers is in
// it, and it names no route that does not exist.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>

#include "api/api.h"
#include "workflows/engine_fixture.h"

namespace zlh::api {
namespace {

using OpenApiTest = workflows::EngineFixture;

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

TEST_F(OpenApiTest, EveryRouteIsDocumentedAndNothingElse) {
  config::Settings settings = config::Defaults();
  TempDir tmp;
  bool created = false;
  auto tokens = Tokens::LoadOrCreate(tmp.Sub("tokens"), &created);
  ASSERT_TRUE(tokens.ok());
  Api api({*engine_, *journal_, settings, *tokens, nullptr});
  std::set<std::pair<std::string, std::string>> served;
  for (const auto& r : api.router().Routes()) served.insert(r);
  std::set<std::pair<std::string, std::string>> documented = Documented();
  ASSERT_GE(documented.size(), 10u) << "could not read " << ZLH_OPENAPI;
  for (const auto& r : served) {
    EXPECT_TRUE(documented.count(r)) << r.first << " " << r.second << " is not in api/openapi.yaml";
  }
  for (const auto& r : documented) {
    EXPECT_TRUE(served.count(r)) << r.first << " " << r.second << " is documented but not served";
  }
}

}  // namespace
}  // namespace zlh::api
