// ZlhdOnSim: a zlh-sim process and a zlhd process pointed at it (--fleet URL) with short timings,
// driven over real HTTP, for the end-to-end and crash tests. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/temp_dir.h"
#include "tests/daemon_process.h"
#include "tests/http_fetch.h"
#include "tests/sim_process.h"

namespace zlh {

class ZlhdOnSim {
 public:
  explicit ZlhdOnSim(TempDir& tmp, const std::string& config_json)
      : tmp_(tmp), sim_(tmp.Sub("sim.json")) {
    std::ofstream(tmp.Sub("zlh.json")) << config_json;
  }

  // Calls the API over HTTPS, verifying zlhd's certificate against `ca_file` (for a config with
  // api.tls).
  void UseHttps(std::string ca_file) {
    scheme_ = "https";
    ca_file_ = std::move(ca_file);
  }

  // Starts zlhd (again), with `extra_args` (--redis URL...), and waits until it serves; false (with
  // the log) when it does not.
  ::testing::AssertionResult Start(const std::vector<std::string>& extra_args = {}) {
    std::remove(tmp_.Sub("data/zlhd.addr").c_str());
    ++starts_;
    log_ = tmp_.Sub("zlhd-" + std::to_string(starts_) + ".log");
    std::vector<std::string> args{"--config", tmp_.Sub("zlh.json"), "--data",  tmp_.Sub("data"),
                                  "--listen", "127.0.0.1:0",        "--fleet", sim_.url()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    daemon_ = std::make_unique<Daemon>(args, log_);
    if (!WaitForLog(log_, "zlhd ready", std::chrono::seconds(60))) {
      return ::testing::AssertionFailure() << "zlhd did not start:\n" << ReadFile(log_);
    }
    addr_ = ReadFile(tmp_.Sub("data/zlhd.addr"));
    while (!addr_.empty() && addr_.back() == '\n') addr_.pop_back();
    std::ifstream tokens(tmp_.Sub("data/tokens"));
    for (std::string role, secret; tokens >> role >> secret;) {
      if (role == "portal") portal_ = secret;
      if (role == "admin") admin_ = secret;
      if (role == "webhook") webhook_ = secret;
    }
    return ::testing::AssertionSuccess();
  }
  void Kill() { daemon_.reset(); }  // SIGKILL
  void Signal(int sig) { daemon_->Signal(sig); }
  // Sends SIGHUP and waits for that reload's log line ("reload applied: ..." or "reload refused,
  // ..."), the `nth` of this start (from 1); "" (with a test failure) when it does not come.
  std::string Reload(int nth) {
    Signal(SIGHUP);
    std::string line;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (line.empty() && std::chrono::steady_clock::now() < until) {
      std::istringstream log(ReadFile(log_));
      int seen = 0;
      for (std::string l; std::getline(log, l);) {
        bool reload = l.find("reload applied") != std::string::npos ||
                      l.find("reload refused") != std::string::npos;
        if (reload && ++seen == nth) line = l;
      }
      if (line.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_FALSE(line.empty()) << "no reload line #" << nth << ":\n" << ReadFile(log_);
    return line;
  }
  int Stop() {
    daemon_->Signal(SIGTERM);
    int code = daemon_->Wait(std::chrono::milliseconds(60'000));
    daemon_.reset();
    return code;
  }

  Fetched Api(const std::string& method, const std::string& path, const std::string& body = "",
              bool admin = false) const {
    return ApiAs(admin ? admin_ : portal_, method, path, body);
  }
  // The API called with `token` as the bearer token.
  Fetched ApiAs(const std::string& token, const std::string& method, const std::string& path,
                const std::string& body = "") const {
    return Fetch(method, url() + path, body,
                 {"Authorization: Bearer " + token, "Content-Type: application/json"}, 20'000,
                 ca_file_);
  }
  std::string url() const { return scheme_ + "://" + addr_; }
  Fetched Create(const std::string& customer, const std::string& nonce, const std::string& name,
                 const std::string& ctype = "game") const {
    boost::json::object body{{"customerId", customer}, {"ctype", ctype}, {"requestNonce", nonce},
                             {"plan", "small"},        {"name", name}};
    if (ctype == "game") body["game"] = "vanilla";
    return Api("POST", "/api/servers/create", boost::json::serialize(body));
  }
  // A response's JSON object (empty, with a test failure, when it is not one).
  static boost::json::object Body(const Fetched& f) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(f.body, ec);
    EXPECT_FALSE(ec) << f.body;
    return ec || !v.is_object() ? boost::json::object() : v.as_object();
  }
  // Waits until workflow `id` has ended (admin read); its status.
  std::string AwaitWorkflow(const std::string& id,
                            std::chrono::seconds deadline = std::chrono::seconds(60)) const {
    auto until = std::chrono::steady_clock::now() + deadline;
    std::string status;
    while (std::chrono::steady_clock::now() < until) {
      Fetched f = Api("GET", "/api/workflows/" + id, "", true);
      if (f.status == 200) {
        status = std::string(Body(f)["status"].as_string());
        if (status == "completed" || status == "failed" || status == "cancelled") return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "workflow " << id << " still " << status << "\n" << ReadFile(log_);
    return status;
  }
  boost::json::object SimState() const {
    Fetched f = Fetch("GET", sim_.url() + "/sim/state");
    return boost::json::parse(f.body).as_object();
  }
  long SimPost(const std::string& path, const std::string& body) const {
    return Fetch("POST", sim_.url() + path, body).status;
  }
  // Waits until zlhd's outbox has delivered (or refused) every notification recorded so far, so
  // that what zlh-sim shows is all there is to show: delivery follows the workflows that recorded
  // them. False when some is still pending at the deadline (a node that does not lead holds back
  // the workflows' notifications).
  bool AwaitDelivered(std::chrono::seconds deadline = std::chrono::seconds(30)) const {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      Fetched f = Api("GET", "/api/notifications?status=pending&limit=1", "", true);
      if (f.status == 200 && Body(f)["notifications"].as_array().empty()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "notifications still pending: "
                  << Api("GET", "/api/notifications?status=pending", "", true).body;
    return false;
  }
  // The notifications zlhd's outbox holds (on `channel`, or all), oldest first: every page of
  // GET /api/notifications.
  std::vector<boost::json::object> Notifications(const std::string& channel = "") const {
    std::vector<boost::json::object> out;
    std::string after;
    do {
      boost::json::object page = Body(Api(
          "GET", "/api/notifications?limit=1000" + (channel.empty() ? "" : "&channel=" + channel) + after,
          "", true));
      boost::json::array items = page["notifications"].as_array();
      for (const auto& n : items) out.push_back(n.as_object());
      after = page["next"].is_null() ? "" : "&after=" + boost::json::serialize(page["next"]);
    } while (!after.empty());
    std::reverse(out.begin(), out.end());
    return out;
  }
  // The Discord messages zlh-sim holds for `channel`, oldest first.
  std::vector<boost::json::object> Messages(const std::string& channel) const {
    std::vector<boost::json::object> out;
    boost::json::object state = SimState();  // kept: a loop must not run over a destroyed temporary
    for (const auto& m : state["discordMessages"].as_array()) {
      if (m.at("channel").as_string() == channel) out.push_back(m.as_object());
    }
    return out;
  }

  const std::string& log() const { return log_; }
  const std::string& portal_token() const { return portal_; }
  const std::string& admin_token() const { return admin_; }
  const std::string& webhook_secret() const { return webhook_; }
  const std::string& addr() const { return addr_; }
  std::string data() const { return tmp_.Sub("data"); }
  std::string config() const { return tmp_.Sub("zlh.json"); }
  const Sim& sim() const { return sim_; }
  Sim& sim() { return sim_; }

 private:
  TempDir& tmp_;
  Sim sim_;
  std::unique_ptr<Daemon> daemon_;
  int starts_ = 0;
  std::string log_, addr_, portal_, admin_, webhook_;
  std::string scheme_ = "http", ca_file_;
};

// A config for controller tests: short timings, reconcile every 300 ms, no daily digest (unless
// `controller_extra` sets digestAt), plus `controller_extra` members of "controller" and
// `top_extra` top-level members (JSON).
inline std::string ControllerConfig(const std::string& controller_extra = "",
                                    const std::string& top_extra = "") {
  std::string controller = R"("reconcileInterval": "300ms")";
  if (controller_extra.find("digestAt") == std::string::npos) controller += R"(, "digestAt": "off")";
  if (!controller_extra.empty()) controller += ", " + controller_extra;
  return R"({"timing": {"readinessProbeInterval": "50ms", "leaseHeartbeatInterval": "100ms"},
             "proxmox": {"taskPollInterval": "10ms"}, "controller": {)" +
         controller + "}" + (top_extra.empty() ? "" : ", " + top_extra) + "}";
}

// Short timings for tests.
inline constexpr char kFastConfig[] = R"({
  "timing": {"readinessProbeInterval": "50ms", "leaseHeartbeatInterval": "100ms",
             "leasePollInterval": "2s"},
  "proxmox": {"taskPollInterval": "10ms"},
  "queues": {"provision": 4}
})";

}  // namespace zlh
