// zlhd as a real process: clean drain on SIGTERM, refusal of bad usage and of a journal held by
// another process, with the exit codes of SPEC §7.2.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "base/temp_dir.h"
#include "tests/daemon_process.h"
#include "tests/http_fetch.h"

#include <boost/json.hpp>
#include <sstream>

namespace zlh {
namespace {

using namespace std::chrono_literals;

TEST(ZlhdTest, SigtermDrainsAndExitsZero) {
  TempDir tmp;
  Daemon d({"--data", tmp.Sub("data"), "--listen", "127.0.0.1:0"}, tmp.Sub("log"));
  ASSERT_TRUE(WaitForLog(tmp.Sub("log"), "zlhd ready", 30s)) << ReadFile(tmp.Sub("log"));
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(30'000ms), 0) << ReadFile(tmp.Sub("log"));
  EXPECT_NE(ReadFile(tmp.Sub("log")).find("zlhd stopped"), std::string::npos);
}

TEST(ZlhdTest, SecondDaemonOnTheSameJournalExitsThree) {
  TempDir tmp;
  Daemon first({"--data", tmp.Sub("data"), "--listen", "127.0.0.1:0"}, tmp.Sub("log1"));
  ASSERT_TRUE(WaitForLog(tmp.Sub("log1"), "zlhd ready", 30s));
  Daemon second({"--data", tmp.Sub("data"), "--listen", "127.0.0.1:0"}, tmp.Sub("log2"));
  EXPECT_EQ(second.Wait(30'000ms), 3);
  EXPECT_NE(ReadFile(tmp.Sub("log2")).find("in use by another process"), std::string::npos)
      << ReadFile(tmp.Sub("log2"));
  first.Signal(SIGTERM);
  EXPECT_EQ(first.Wait(30'000ms), 0);
}

TEST(ZlhdTest, UnknownFlagExitsTwoWithUsage) {
  TempDir tmp;
  Daemon d({"--frobnicate"}, tmp.Sub("log"));
  EXPECT_EQ(d.Wait(30'000ms), 2);
  std::string log = ReadFile(tmp.Sub("log"));
  EXPECT_NE(log.find("unknown argument '--frobnicate'"), std::string::npos) << log;
  EXPECT_NE(log.find("usage: zlhd"), std::string::npos);
}

TEST(ZlhdTest, ForeignJournalDirectoryExitsThreeAndIsLeftAlone) {
  TempDir tmp;
  std::string data = tmp.Sub("data");
  std::filesystem::create_directories(data + "/journal");
  { std::ofstream(data + "/journal/notes.txt") << "mine"; }
  Daemon d({"--data", data, "--listen", "127.0.0.1:0"}, tmp.Sub("log"));
  EXPECT_EQ(d.Wait(30'000ms), 3);
  EXPECT_EQ(ReadFile(data + "/journal/notes.txt"), "mine");
  EXPECT_NE(ReadFile(tmp.Sub("log")).find("refusing to create one there"), std::string::npos);
}

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// GET over real HTTP; the status (0 when nothing answered) and the body.
std::pair<long, std::string> Get(const std::string& url) {
  std::string body;
  long status = 0;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  return {status, body};
}

TEST(ZlhdTest, ListensOnAFreePortWritesItsAddressAndAnswersHealthz) {
  TempDir tmp;
  Daemon d({"--data", tmp.Sub("data"), "--listen", "127.0.0.1:0"}, tmp.Sub("log"));
  ASSERT_TRUE(WaitForLog(tmp.Sub("log"), "zlhd ready", 30s)) << ReadFile(tmp.Sub("log"));
  std::string addr = ReadFile(tmp.Sub("data/zlhd.addr"));
  ASSERT_EQ(addr.rfind("127.0.0.1:", 0), 0u) << addr;
  addr.pop_back();  // the newline
  EXPECT_NE(addr, "127.0.0.1:0");
  EXPECT_NE(ReadFile(tmp.Sub("log")).find("listening on http://" + addr), std::string::npos);
  auto [status, body] = Get("http://" + addr + "/healthz");
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body, R"({"status":"ok"})");
  EXPECT_EQ(Get("http://" + addr + "/nope").first, 404);
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(30'000ms), 0);
  EXPECT_EQ(Get("http://" + addr + "/healthz").first, 0);  // closed
}

TEST(ZlhdTest, BadOrTakenListenAddressExitsTwo) {
  TempDir tmp;
  Daemon bad({"--data", tmp.Sub("data"), "--listen", "nonsense"}, tmp.Sub("log1"));
  EXPECT_EQ(bad.Wait(30'000ms), 2);
  EXPECT_NE(ReadFile(tmp.Sub("log1")).find("--listen: 'nonsense' is not HOST:PORT"), std::string::npos);

  Daemon first({"--data", tmp.Sub("a"), "--listen", "127.0.0.1:0"}, tmp.Sub("log2"));
  ASSERT_TRUE(WaitForLog(tmp.Sub("log2"), "zlhd ready", 30s));
  std::string addr = ReadFile(tmp.Sub("a/zlhd.addr"));
  addr.pop_back();
  Daemon second({"--data", tmp.Sub("b"), "--listen", addr}, tmp.Sub("log3"));
  EXPECT_EQ(second.Wait(30'000ms), 2);
  EXPECT_NE(ReadFile(tmp.Sub("log3")).find("cannot listen on " + addr), std::string::npos)
      << ReadFile(tmp.Sub("log3"));
  first.Signal(SIGTERM);
  EXPECT_EQ(first.Wait(30'000ms), 0);
}

TEST(ZlhdTest, JsonLogsAreOneObjectPerLine) {
  TempDir tmp;
  Daemon d({"--data", tmp.Sub("data"), "--listen", "127.0.0.1:0", "--log-format", "json"},
           tmp.Sub("log"));
  ASSERT_TRUE(WaitForLog(tmp.Sub("log"), "zlhd ready", 30s)) << ReadFile(tmp.Sub("log"));
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(30'000ms), 0);
  std::istringstream lines(ReadFile(tmp.Sub("log")));
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << "not JSON: " << line;
    EXPECT_TRUE(v.is_object() && v.as_object().contains("time") && v.as_object().contains("level") &&
                v.as_object().contains("msg"))
        << line;
  }
  EXPECT_GE(n, 3);
  Daemon bad({"--log-format", "yaml"}, tmp.Sub("log2"));
  EXPECT_EQ(bad.Wait(30'000ms), 2);
}

// With no --fleet and no config, zlhd runs the simulated fleet in-process and keeps its state in
// the data directory, so a provisioning made before a restart is still there after it.
TEST(ZlhdTest, TheDefaultFleetIsSimulatedInProcessWithItsStateInTheDataDir) {
  TempDir tmp;
  std::string data = tmp.Sub("data");
  std::string server_id;
  for (int run = 0; run < 2; ++run) {
    std::string log = tmp.Sub("log" + std::to_string(run));
    Daemon d({"--data", data, "--listen", "127.0.0.1:0"}, log);
    ASSERT_TRUE(WaitForLog(log, "zlhd ready", 30s)) << ReadFile(log);
    EXPECT_NE(ReadFile(log).find("simulated fleet in-process"), std::string::npos);
    std::string addr = ReadFile(data + "/zlhd.addr");
    addr.pop_back();
    std::string token;
    std::ifstream tokens(data + "/tokens");
    for (std::string role, secret; tokens >> role >> secret;) {
      if (role == "portal") token = secret;
    }
    std::vector<std::string> headers = {"Authorization: Bearer " + token,
                                        "Content-Type: application/json"};
    if (run == 0) {
      EXPECT_NE(ReadFile(log).find("API tokens written to " + data + "/tokens"), std::string::npos);
      EXPECT_EQ(ReadFile(log).find(token), std::string::npos) << "a secret was logged";
      Fetched created = Fetch("POST", "http://" + addr + "/api/servers/create",
                              R"({"customerId":"c-1","ctype":"game","requestNonce":"r1",)"
                              R"("game":"vanilla","plan":"small","name":"survival"})",
                              headers);
      ASSERT_EQ(created.status, 202) << created.body;
      size_t at = created.body.find("\"serverId\":\"") + 12;
      server_id = created.body.substr(at, created.body.find('"', at) - at);
    }
    // Running (at once, or after the restart: the same world, the same server).
    std::string body;
    auto until = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < until) {
      body = Fetch("GET", "http://" + addr + "/api/servers/" + server_id + "?customerId=c-1", "",
                   headers).body;
      if (body.find("\"status\":\"running\"") != std::string::npos) break;
      std::this_thread::sleep_for(20ms);
    }
    EXPECT_NE(body.find("\"status\":\"running\""), std::string::npos) << body;
    EXPECT_NE(ReadFile(data + "/sim-state.json").find("survival"), std::string::npos);
    d.Signal(SIGTERM);
    EXPECT_EQ(d.Wait(30'000ms), 0);
  }
}

}  // namespace
}  // namespace zlh
