// zlh-sim as a real process over real HTTP: it survives its own SIGKILL with its state, and an
// injected timeout holds the request past the caller's timeout.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "base/temp_dir.h"
#include "tests/sim_process.h"

namespace zlh {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// A request; the status (0: no answer within `timeout`) and the body.
std::pair<long, std::string> Send(const std::string& method, const std::string& url,
                                  const std::string& body = "", long timeout_ms = 20000) {
  std::string out;
  long status = 0;
  CURL* curl = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Authorization: PVEAPIToken=zlh@pve!zlh=00000000-0000-0000-0000-00000000517e");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (!body.empty()) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return {status, out};
}

TEST(ZlhSimTest, StateSurvivesAKilledSimulator) {
  TempDir tmp;
  std::string state = tmp.Sub("sim.json");
  {
    Sim sim(state);
    ASSERT_FALSE(sim.url().empty());
    auto [status, body] = Send("POST", sim.url() + "/api2/json/nodes/pve1/lxc/9000/clone",
                               "newid=101&hostname=survival");
    ASSERT_EQ(status, 200) << body;
    sim.Kill(SIGKILL);
  }
  Sim again(state);
  ASSERT_FALSE(again.url().empty());
  auto [status, body] = Send("GET", again.url() + "/sim/state");
  ASSERT_EQ(status, 200);
  json::value c = json::parse(body).at("containers").at(0);
  EXPECT_EQ(c.at("vmid").as_int64(), 101);
  EXPECT_EQ(c.at("createCalls").as_int64(), 1);
}

TEST(ZlhSimTest, TimeoutFaultHoldsTheRequestPastTheCallersTimeout) {
  TempDir tmp;
  Sim sim(tmp.Sub("sim.json"));
  ASSERT_FALSE(sim.url().empty());
  ASSERT_EQ(Send("POST", sim.url() + "/sim/faults",
                 R"({"call":"proxmox.status","mode":"timeout","latencyMs":3000})").first, 200);
  auto t0 = std::chrono::steady_clock::now();
  auto held = Send("GET", sim.url() + "/api2/json/nodes/pve1/lxc/101/status/current", "", 500);
  EXPECT_EQ(held.first, 0);  // the caller gave up
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms);
  // The fault was used up: the next call is answered at once.
  EXPECT_EQ(Send("GET", sim.url() + "/api2/json/nodes/pve1/lxc/101/status/current").first, 500);
}

}  // namespace
}  // namespace zlh
