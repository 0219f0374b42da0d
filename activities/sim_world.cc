#include "activities/sim_world.h"

#include <boost/json.hpp>
#include <cstdio>
#include <deque>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "base/clock.h"
#include "base/url.h"

namespace zlh::activities::sim {
namespace {

namespace json = boost::json;

// Every call name of SPEC §7.4; faults name one of these.
const std::set<std::string> kCalls = {
    "proxmox.create", "proxmox.start",  "proxmox.stop",     "proxmox.destroy", "proxmox.status",
    "agent.health",   "agent.install",  "agent.restart",    "agent.workload",  "proxy.register",
    "proxy.unregister", "dns.publish",  "dns.delete",       "billing.status",  "backup.run",
    "backup.restore", "discord.post",   "proxmox.reboot"};

struct Container {
  int64_t vmid = 0;
  std::string node;
  std::string hostname;
  std::string status = "stopped";
  int64_t create_calls = 0;
  bool preexisting = false;
};

struct Mutation {
  std::string call;
  int64_t vmid = 0;
  std::optional<uint64_t> token;
  std::string at;
  bool rejected = false;
};

struct Fault {
  std::string mode;  // error, timeout, latency
  int64_t count = 1;
  int64_t status = 500;
  int64_t latency_ms = 0;
};

HttpReply Reply(int status, json::value body) { return {status, json::serialize(body)}; }

HttpReply Error(int status, const std::string& message) {
  return Reply(status, json::object{{"error", json::object{{"code", status == 404   ? "not_found"
                                                                   : status == 409 ? "conflict"
                                                                   : status == 401 ? "unauthenticated"
                                                                                   : "invalid_argument"},
                                                           {"message", message}}}});
}

// Proxmox wraps every answer in {"data": ...}; errors carry a message.
HttpReply Pve(json::value data) { return Reply(200, json::object{{"data", std::move(data)}}); }
HttpReply PveError(int status, const std::string& message) {
  return Reply(status, json::object{{"data", nullptr}, {"message", message}});
}

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream in(path);
  for (std::string part; std::getline(in, part, '/');) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

std::optional<int64_t> ToInt(const std::string& s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

struct World::State {
  std::vector<std::string> nodes;
  std::map<int64_t, Container> containers;
  std::vector<Mutation> mutations;
  std::map<std::string, std::deque<Fault>> faults;
  uint64_t max_token = 0;
  uint64_t tasks = 0;

  json::object ToJson(bool with_internal) const;
  static Result<std::unique_ptr<State>> FromJson(const json::value& v);

  // The next pending fault of `call` (consumed), if any.
  std::optional<Fault> TakeFault(const std::string& call);
  // Records a mutating call; false (and recorded as rejected) when its token is stale.
  bool Mutate(const std::string& call, int64_t vmid, const HttpCall& http);
  std::string NewTask(const std::string& node, const std::string& kind, int64_t vmid);

  HttpReply Proxmox(const HttpCall& call, const std::vector<std::string>& parts, bool* changed);
  HttpReply SimPost(const HttpCall& call, const std::string& what, bool* changed);
};

json::object World::State::ToJson(bool with_internal) const {
  json::array cs;
  for (const auto& [vmid, c] : containers) {
    cs.push_back(json::object{{"vmid", c.vmid},          {"node", c.node},
                              {"hostname", c.hostname},  {"status", c.status},
                              {"createCalls", c.create_calls}, {"preexisting", c.preexisting}});
  }
  json::array ms;
  for (const Mutation& m : mutations) {
    ms.push_back(json::object{{"call", m.call},
                              {"vmid", m.vmid},
                              {"fencingToken", m.token ? json::value(*m.token) : json::value(nullptr)},
                              {"at", m.at},
                              {"rejected", m.rejected}});
  }
  json::object out{{"containers", std::move(cs)},
                   {"agents", json::array()},
                   {"dnsRecords", json::array()},
                   {"proxyRegistrations", json::array()},
                   {"discordMessages", json::array()},
                   {"billing", json::array()},
                   {"backups", json::array()},
                   {"mutations", std::move(ms)}};
  if (with_internal) {
    json::object fs;
    for (const auto& [call, queue] : faults) {
      json::array list;
      for (const Fault& f : queue) {
        list.push_back(json::object{{"mode", f.mode}, {"count", f.count}, {"status", f.status},
                                    {"latencyMs", f.latency_ms}});
      }
      fs[call] = std::move(list);
    }
    json::array ns;
    for (const auto& n : nodes) ns.push_back(json::value(n));
    out["internal"] = json::object{{"nodes", std::move(ns)}, {"faults", std::move(fs)},
                                   {"maxToken", max_token}, {"tasks", tasks}};
  }
  return out;
}

Result<std::unique_ptr<World::State>> World::State::FromJson(const json::value& v) {
  auto state = std::make_unique<State>();
  try {
    const json::object& o = v.as_object();
    for (const auto& c : o.at("containers").as_array()) {
      Container k;
      k.vmid = c.at("vmid").to_number<int64_t>();
      k.node = std::string(c.at("node").as_string());
      k.hostname = std::string(c.at("hostname").as_string());
      k.status = std::string(c.at("status").as_string());
      k.create_calls = c.at("createCalls").to_number<int64_t>();
      k.preexisting = c.at("preexisting").as_bool();
      state->containers[k.vmid] = k;
    }
    for (const auto& m : o.at("mutations").as_array()) {
      Mutation k;
      k.call = std::string(m.at("call").as_string());
      k.vmid = m.at("vmid").to_number<int64_t>();
      if (!m.at("fencingToken").is_null()) k.token = m.at("fencingToken").to_number<uint64_t>();
      k.at = std::string(m.at("at").as_string());
      k.rejected = m.at("rejected").as_bool();
      state->mutations.push_back(k);
    }
    const json::object& internal = o.at("internal").as_object();
    for (const auto& n : internal.at("nodes").as_array()) state->nodes.emplace_back(n.as_string());
    for (const auto& [call, list] : internal.at("faults").as_object()) {
      for (const auto& f : list.as_array()) {
        state->faults[std::string(call)].push_back(
            Fault{std::string(f.at("mode").as_string()), f.at("count").to_number<int64_t>(),
                  f.at("status").to_number<int64_t>(), f.at("latencyMs").to_number<int64_t>()});
      }
    }
    state->max_token = internal.at("maxToken").to_number<uint64_t>();
    state->tasks = internal.at("tasks").to_number<uint64_t>();
  } catch (const std::exception& e) {
    return Corruption(std::string("the state does not have the expected shape: ") + e.what());
  }
  return state;
}

std::optional<Fault> World::State::TakeFault(const std::string& call) {
  auto it = faults.find(call);
  if (it == faults.end() || it->second.empty()) return std::nullopt;
  Fault f = it->second.front();
  if (--it->second.front().count <= 0) it->second.pop_front();
  if (it->second.empty()) faults.erase(it);
  return f;
}

bool World::State::Mutate(const std::string& call, int64_t vmid, const HttpCall& http) {
  Mutation m{call, vmid, std::nullopt, FormatRfc3339(NowMs()), false};
  auto header = http.headers.find("x-zlh-fencing-token");
  if (header != http.headers.end()) {
    auto token = ToInt(header->second);
    m.token = token ? static_cast<uint64_t>(*token) : 0;
    if (*m.token < max_token) {
      m.rejected = true;
    } else {
      max_token = *m.token;
    }
  }
  mutations.push_back(m);
  return !m.rejected;
}

std::string World::State::NewTask(const std::string& node, const std::string& kind, int64_t vmid) {
  char upid[128];
  std::snprintf(upid, sizeof upid, "UPID:%s:%08llX:00000000:%08llX:%s:%lld:root@pam:", node.c_str(),
                static_cast<unsigned long long>(++tasks), static_cast<unsigned long long>(NowMs() / 1000),
                kind.c_str(), static_cast<long long>(vmid));
  return upid;
}

HttpReply World::State::Proxmox(const HttpCall& call, const std::vector<std::string>& parts,
                                bool* changed) {
  // parts: api2 json ...
  auto auth = call.headers.find("authorization");
  if (auth == call.headers.end() || auth->second.rfind("PVEAPIToken=", 0) != 0) {
    return PveError(401, "authentication failure");
  }
  std::vector<std::string> p(parts.begin() + 2, parts.end());
  if (call.method == "GET" && p.size() == 1 && p[0] == "nodes") {
    json::array out;
    for (const auto& n : nodes) {
      int64_t guests = 0;
      for (const auto& [vmid, c] : containers) guests += c.node == n;
      out.push_back(json::object{{"node", n},
                                 {"status", "online"},
                                 {"cpu", 0.05 * static_cast<double>(guests)},
                                 {"mem", guests * (int64_t{2} << 30)},
                                 {"maxmem", int64_t{64} << 30}});
    }
    return Pve(std::move(out));
  }
  if (call.method == "GET" && p.size() == 2 && p[0] == "cluster" && p[1] == "resources") {
    json::array out;
    for (const auto& [vmid, c] : containers) {
      out.push_back(json::object{{"vmid", c.vmid}, {"node", c.node}, {"type", "lxc"},
                                 {"status", c.status}, {"name", c.hostname}});
    }
    return Pve(std::move(out));
  }
  if (p.size() < 2 || p[0] != "nodes") return PveError(404, "no such path");
  const std::string& node = p[1];
  if (std::find(nodes.begin(), nodes.end(), node) == nodes.end()) {
    return PveError(404, "no such node '" + node + "'");
  }
  if (call.method == "GET" && p.size() == 5 && p[2] == "tasks" && p[4] == "status") {
    if (p[3].rfind("UPID:" + node + ":", 0) != 0) return PveError(404, "no such task");
    return Pve(json::object{{"upid", p[3]}, {"status", "stopped"}, {"exitstatus", "OK"}});
  }
  if (p.size() < 4 || p[2] != "lxc") return PveError(404, "no such path");
  auto vmid = ToInt(p[3]);
  if (!vmid) return PveError(400, "vmid: '" + p[3] + "' is not a number");

  std::string name;
  if (call.method == "POST" && p.size() == 5 && p[4] == "clone") {
    name = "proxmox.create";
  } else if (call.method == "POST" && p.size() == 6 && p[4] == "status") {
    name = p[5] == "start" ? "proxmox.start"
           : p[5] == "stop" || p[5] == "shutdown" ? "proxmox.stop"
           : p[5] == "reboot" ? "proxmox.reboot"
                              : "";
  } else if (call.method == "GET" && p.size() == 6 && p[4] == "status" && p[5] == "current") {
    name = "proxmox.status";
  } else if (call.method == "DELETE" && p.size() == 4) {
    name = "proxmox.destroy";
  }
  if (name.empty()) return PveError(404, "no such path");

  HttpReply delay;
  if (auto fault = TakeFault(name)) {
    *changed = true;
    if (fault->mode == "error") {
      return PveError(static_cast<int>(fault->status), "injected fault on " + name);
    }
    delay.delay_ms = fault->latency_ms > 0 ? fault->latency_ms : (fault->mode == "timeout" ? 30'000 : 0);
    if (fault->mode == "timeout") {
      HttpReply r = PveError(504, "injected timeout on " + name);
      r.delay_ms = delay.delay_ms;
      return r;
    }
  }
  auto with_delay = [&](HttpReply r) {
    r.delay_ms = delay.delay_ms;
    return r;
  };

  if (name == "proxmox.status") {
    auto it = containers.find(*vmid);
    if (it == containers.end() || it->second.node != node) {
      return with_delay(PveError(500, "CT " + p[3] + " does not exist"));
    }
    return with_delay(Pve(json::object{{"vmid", *vmid}, {"status", it->second.status},
                                       {"name", it->second.hostname}}));
  }
  // Everything else changes the world: it is fenced and recorded.
  int64_t target_vmid = *vmid;
  std::map<std::string, std::string> form = ParseForm(call.body);
  if (name == "proxmox.create") {
    auto newid = ToInt(form["newid"]);
    if (!newid) return with_delay(PveError(400, "newid: required, a number"));
    target_vmid = *newid;
  }
  *changed = true;
  if (!Mutate(name, target_vmid, call)) {
    return with_delay(Error(409, "fencing token " + call.headers.at("x-zlh-fencing-token") +
                                     " is older than " + std::to_string(max_token)));
  }
  if (name == "proxmox.create") {
    std::string hostname = form["hostname"];
    if (hostname.empty()) return with_delay(PveError(400, "hostname: required"));
    std::string target = form.count("target") ? form["target"] : node;
    if (std::find(nodes.begin(), nodes.end(), target) == nodes.end()) {
      return with_delay(PveError(400, "target: no such node '" + target + "'"));
    }
    auto it = containers.find(target_vmid);
    if (it != containers.end()) {
      ++it->second.create_calls;
      return with_delay(PveError(500, "CT " + std::to_string(target_vmid) + " already exists"));
    }
    Container c;
    c.vmid = target_vmid;
    c.node = target;
    c.hostname = hostname;
    c.create_calls = 1;
    containers[target_vmid] = c;
    return with_delay(Pve(json::value(NewTask(node, "vzclone", target_vmid))));
  }
  auto it = containers.find(target_vmid);
  if (it == containers.end() || it->second.node != node) {
    return with_delay(PveError(500, "CT " + std::to_string(target_vmid) + " does not exist"));
  }
  if (name == "proxmox.destroy") {
    containers.erase(it);
    return with_delay(Pve(json::value(NewTask(node, "vzdestroy", target_vmid))));
  }
  it->second.status = name == "proxmox.stop" ? "stopped" : "running";
  return with_delay(Pve(json::value(NewTask(node, name == "proxmox.start"  ? "vzstart"
                                                  : name == "proxmox.stop" ? "vzstop"
                                                                           : "vzreboot",
                                            target_vmid))));
}

HttpReply World::State::SimPost(const HttpCall& call, const std::string& what, bool* changed) {
  json::value body;
  try {
    body = json::parse(call.body);
  } catch (const std::exception&) {
    return Error(400, "the body is not JSON");
  }
  if (!body.is_object()) return Error(400, "the body must be a JSON object");
  const json::object& o = body.as_object();
  auto str = [&](const char* key) -> std::optional<std::string> {
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_string()) return std::nullopt;
    return std::string(it->value().as_string());
  };
  auto num = [&](const char* key) -> std::optional<int64_t> {
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_int64()) return std::nullopt;
    return it->value().as_int64();
  };
  if (what == "containers") {
    for (const auto& [key, value] : o) {
      if (key != "vmid" && key != "node" && key != "hostname") {
        return Error(400, std::string(key) + ": unknown field");
      }
    }
    auto vmid = num("vmid");
    auto node = str("node");
    auto hostname = str("hostname");
    if (!vmid || *vmid <= 0) return Error(400, "vmid: required, a positive integer");
    if (!node || std::find(nodes.begin(), nodes.end(), *node) == nodes.end()) {
      return Error(400, "node: required, one of the simulated nodes");
    }
    if (!hostname || hostname->empty()) return Error(400, "hostname: required");
    if (containers.count(*vmid)) return Error(409, "vmid: " + std::to_string(*vmid) + " exists");
    Container c;
    c.vmid = *vmid;
    c.node = *node;
    c.hostname = *hostname;
    c.status = "running";
    c.preexisting = true;
    containers[*vmid] = c;
    *changed = true;
    return Reply(201, json::object{{"vmid", *vmid}});
  }
  if (what == "faults") {
    if (o.contains("drift")) return Error(400, "drift: not simulated by this build yet");
    for (const auto& [key, value] : o) {
      if (key != "call" && key != "mode" && key != "count" && key != "status" && key != "latencyMs") {
        return Error(400, std::string(key) + ": unknown field");
      }
    }
    auto name = str("call");
    if (!name || !kCalls.count(*name)) return Error(400, "call: required, a call name of SPEC §7.4");
    Fault f;
    f.mode = str("mode").value_or("");
    if (f.mode != "error" && f.mode != "timeout" && f.mode != "latency") {
      return Error(400, "mode: required, one of error, timeout, latency");
    }
    if (o.contains("count") && (!num("count") || *num("count") < 1)) {
      return Error(400, "count: a positive integer");
    }
    if (o.contains("status") && (!num("status") || *num("status") < 400 || *num("status") > 599)) {
      return Error(400, "status: an HTTP error status (400-599)");
    }
    if (o.contains("latencyMs") && (!num("latencyMs") || *num("latencyMs") < 0)) {
      return Error(400, "latencyMs: a non-negative integer");
    }
    f.count = num("count").value_or(1);
    f.status = num("status").value_or(500);
    f.latency_ms = num("latencyMs").value_or(0);
    faults[*name].push_back(f);
    *changed = true;
    return Reply(200, json::object{{"call", *name}, {"pending", static_cast<int64_t>(faults[*name].size())}});
  }
  return Error(404, "no such simulator route");
}

World::World(std::string state_file, std::unique_ptr<State> state)
    : state_file_(std::move(state_file)), state_(std::move(state)) {}

World::~World() = default;

Result<std::unique_ptr<World>> World::Open(std::string state_file, std::vector<std::string> nodes) {
  std::unique_ptr<State> state;
  std::ifstream in(state_file);
  if (!state_file.empty() && in) {
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec) return Corruption("simulator state " + state_file + " is not JSON: " + ec.message());
    auto loaded = State::FromJson(v);
    if (!loaded.ok()) return loaded.status().WithContext("simulator state " + state_file);
    state = std::move(*loaded);
  } else {
    state = std::make_unique<State>();
    state->nodes = std::move(nodes);
  }
  if (state->nodes.empty()) return InvalidArgument("the simulated fleet needs at least one node");
  return std::unique_ptr<World>(new World(std::move(state_file), std::move(state)));
}

std::string World::StateJson() const { return json::serialize(state_->ToJson(false)); }

Status World::Save() const {
  if (state_file_.empty()) return Status::Ok();
  std::string tmp = state_file_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!(out << json::serialize(state_->ToJson(true)))) return IOError("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), state_file_.c_str()) != 0) {
    return IOError("cannot replace " + state_file_);
  }
  return Status::Ok();
}

HttpReply World::Handle(const HttpCall& call) {
  std::vector<std::string> parts = Split(call.path);
  bool changed = false;
  HttpReply reply;
  if (parts.size() >= 2 && parts[0] == "api2" && parts[1] == "json") {
    reply = state_->Proxmox(call, parts, &changed);
  } else if (parts.size() == 2 && parts[0] == "sim" && parts[1] == "state") {
    if (call.method != "GET") return Error(405, "use GET");
    return Reply(200, json::parse(StateJson()));
  } else if (parts.size() == 2 && parts[0] == "sim") {
    if (call.method != "POST") return Error(405, "use POST");
    reply = state_->SimPost(call, parts[1], &changed);
  } else {
    return Error(404, "no such simulator route: " + call.path);
  }
  if (changed) {
    if (Status s = Save(); !s.ok()) return Error(500, s.ToString());
  }
  return reply;
}

}  // namespace zlh::activities::sim
