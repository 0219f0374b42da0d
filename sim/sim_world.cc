#include "sim/sim_world.h"

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "base/clock.h"
#include "sim/sim_state.h"

namespace zlh::sim {
namespace {

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream in(path);
  for (std::string part; std::getline(in, part, '/');) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

}  // namespace

HttpReply JsonReply(int status, json::value body) {
  HttpReply r;
  r.status = status;
  r.body = json::serialize(body);
  return r;
}

HttpReply ErrorReply(int status, const std::string& message) {
  const char* code = status == 404   ? "not_found"
                     : status == 409 ? "conflict"
                     : status == 401 ? "unauthenticated"
                     : status == 405 ? "invalid_argument"
                     : status >= 500 ? "unavailable"
                                     : "invalid_argument";
  return JsonReply(status, json::object{{"error", json::object{{"code", code}, {"message", message}}}});
}

std::optional<int64_t> ToInt(const std::string& text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

bool HasServiceToken(const HttpCall& call) {
  auto it = call.headers.find("authorization");
  return it != call.headers.end() && it->second == std::string("Bearer ") + kServiceToken;
}

json::object World::State::ToJson(bool with_internal) const {
  json::array cs, as, ds, ps, msgs, bill, backs, ms;
  for (const auto& [vmid, c] : containers) {
    json::object o{{"vmid", c.vmid},
                   {"node", c.node},
                   {"hostname", c.hostname},
                   {"status", c.status},
                   {"createCalls", c.create_calls},
                   {"preexisting", c.preexisting},
                   {"restoredFrom", c.restored_from.empty() ? json::value(nullptr)
                                                            : json::value(c.restored_from)}};
    json::object config = ConfigOf(c);
    o["net0"] = config.contains("net0") ? config["net0"] : json::value(nullptr);
    o["cores"] = config["cores"];
    o["memoryMb"] = config["memory"];
    o["swapMb"] = config["swap"];
    o["diskGb"] = c.disk_gb;
    if (with_internal) {
      json::object set;
      for (const auto& [key, value] : c.config) set[key] = value;
      o["config"] = std::move(set);
    }
    cs.push_back(std::move(o));
  }
  for (const auto& [vmid, a] : agents) {
    json::object o{{"vmid", vmid}, {"state", a.state}, {"restarts", a.restarts},
                   {"workload", a.workload}};
    if (with_internal) o["game"] = a.game;
    as.push_back(std::move(o));
  }
  for (const DnsRecord& r : dns) {
    ds.push_back(json::object{{"id", r.id}, {"type", r.type}, {"name", r.name}, {"content", r.content}});
  }
  for (const auto& [name, address] : proxy) {
    ps.push_back(json::object{{"name", name}, {"address", address}});
  }
  for (const DiscordMessage& m : discord) {
    json::object o{{"channel", m.channel}, {"content", m.content}, {"ping", m.ping}, {"at", m.at}};
    if (!m.nonce.empty()) o["nonce"] = m.nonce;
    msgs.push_back(std::move(o));
  }
  for (const auto& [customer, status] : billing) {
    bill.push_back(json::object{{"customerId", customer}, {"status", status}});
  }
  for (const auto& [vmid, b] : backups) {
    backs.push_back(json::object{{"vmid", vmid}, {"lastAt", FormatRfc3339(b.at_ms)}});
  }
  for (const Mutation& m : mutations) {
    json::object o{{"call", m.call},
                   {"vmid", m.vmid},
                   {"fencingToken", m.token ? json::value(*m.token) : json::value(nullptr)},
                   {"at", m.at},
                   {"rejected", m.rejected}};
    if (!m.key.empty()) o["idempotencyKey"] = m.key;
    ms.push_back(std::move(o));
  }
  json::object out{{"containers", std::move(cs)},     {"agents", std::move(as)},
                   {"dnsRecords", std::move(ds)},     {"proxyRegistrations", std::move(ps)},
                   {"discordMessages", std::move(msgs)}, {"billing", std::move(bill)},
                   {"backups", std::move(backs)},     {"mutations", std::move(ms)},
                   {"discordRepeats", discord_repeats}};
  json::object down;
  for (const auto& [service, until] : outages) down[service] = FormatRfc3339(until);
  out["outages"] = std::move(down);
  if (with_internal) {
    json::object fs;
    for (const auto& [call, queue] : faults) {
      json::array list;
      for (const Fault& f : queue) {
        list.push_back(json::object{{"mode", f.mode},
                                    {"count", f.count},
                                    {"status", f.status},
                                    {"latencyMs", f.latency_ms},
                                    {"exitstatus", f.exitstatus}});
      }
      fs[call] = std::move(list);
    }
    json::array ns;
    for (const auto& n : nodes) ns.push_back(json::value(n));
    json::object backup_ms;
    json::object backup_of;
    for (const auto& [vmid, b] : backups) {
      backup_ms[std::to_string(vmid)] = b.at_ms;
      json::object config;
      for (const auto& [key, value] : b.config) config[key] = value;
      backup_of[std::to_string(vmid)] = json::object{{"hostname", b.hostname},
                                                     {"config", std::move(config)},
                                                     {"diskGb", b.disk_gb},
                                                     {"game", b.game}};
    }
    json::object zs;
    for (const auto& [id, name] : zones) zs[id] = name;
    json::array deleted(deleted_webhooks.begin(), deleted_webhooks.end());
    json::object ls, failed, leased;
    for (const auto& [vmid, lock] : locks) {
      ls[std::to_string(vmid)] = json::object{{"what", lock.what}, {"count", lock.count}};
    }
    for (const auto& [upid, exit] : failed_tasks) failed[upid] = exit;
    for (const auto& [vmid, address] : leases) leased[std::to_string(vmid)] = address;
    json::object outages_ms;
    for (const auto& [service, until] : outages) outages_ms[service] = until;
    out["internal"] = json::object{{"nodes", std::move(ns)},
                                   {"faults", std::move(fs)},
                                   {"zones", std::move(zs)},
                                   {"maxToken", max_token},
                                   {"tasks", tasks},
                                   {"dnsIds", dns_ids},
                                   {"backupMs", std::move(backup_ms)},
                                   {"backupOf", std::move(backup_of)},
                                   {"discordNonceDedup", discord_nonce_dedup},
                                   {"deletedWebhooks", std::move(deleted)},
                                   {"locks", std::move(ls)},
                                   {"failedTasks", std::move(failed)},
                                   {"leases", std::move(leased)},
                                   {"outagesMs", std::move(outages_ms)}};
  }
  return out;
}

namespace {

// Locks, failed tasks and DHCP leases from a state file's "internal" (absent in older files).
void LoadProxmoxInternals(const json::object& internal, World::State& state) {
  if (const json::value* ls = internal.if_contains("locks")) {
    for (const auto& [vmid, lock] : ls->as_object()) {
      state.locks[std::stoll(std::string(vmid))] = GuestLock{
          std::string(lock.at("what").as_string()), lock.at("count").to_number<int64_t>()};
    }
  }
  if (const json::value* failed = internal.if_contains("failedTasks")) {
    for (const auto& [upid, exit] : failed->as_object()) {
      state.failed_tasks[std::string(upid)] = std::string(exit.as_string());
    }
  }
  if (const json::value* leased = internal.if_contains("leases")) {
    for (const auto& [vmid, address] : leased->as_object()) {
      state.leases[std::stoll(std::string(vmid))] = std::string(address.as_string());
    }
  }
}

}  // namespace

Result<std::unique_ptr<World::State>> World::State::FromJson(const json::value& v) {
  auto state = std::make_unique<State>();
  try {
    const json::object& o = v.as_object();
    auto str = [](const json::value& x, const char* key) { return std::string(x.at(key).as_string()); };
    for (const auto& c : o.at("containers").as_array()) {
      Container k{c.at("vmid").to_number<int64_t>(), str(c, "node"), str(c, "hostname"),
                  str(c, "status"), c.at("createCalls").to_number<int64_t>(),
                  c.at("preexisting").as_bool(), {}, kTemplateDiskGb, ""};
      if (const json::value* set = c.as_object().if_contains("config")) {  // absent: older files
        for (const auto& [key, value] : set->as_object()) k.config[key] = value.as_string();
      }
      if (const json::value* disk = c.as_object().if_contains("diskGb")) {
        k.disk_gb = disk->to_number<int64_t>();
      }
      if (const json::value* from = c.as_object().if_contains("restoredFrom"); from && from->is_string()) {
        k.restored_from = from->as_string();
      }
      state->containers[k.vmid] = k;
    }
    for (const auto& a : o.at("agents").as_array()) {
      state->agents[a.at("vmid").to_number<int64_t>()] =
          Agent{str(a, "state"), a.at("restarts").to_number<int64_t>(), str(a, "workload"),
                str(a, "game")};
    }
    for (const auto& r : o.at("dnsRecords").as_array()) {
      state->dns.push_back(DnsRecord{str(r, "id"), str(r, "type"), str(r, "name"), str(r, "content")});
    }
    for (const auto& p : o.at("proxyRegistrations").as_array()) state->proxy[str(p, "name")] = str(p, "address");
    for (const auto& m : o.at("discordMessages").as_array()) {
      const json::value* nonce = m.as_object().if_contains("nonce");
      state->discord.push_back(DiscordMessage{str(m, "channel"), str(m, "content"),
                                              m.at("ping").as_bool(), str(m, "at"),
                                              nonce ? str(m, "nonce") : ""});
    }
    if (const json::value* r = o.if_contains("discordRepeats")) {
      state->discord_repeats = r->to_number<int64_t>();
    }
    for (const auto& b : o.at("billing").as_array()) state->billing[str(b, "customerId")] = str(b, "status");
    for (const auto& m : o.at("mutations").as_array()) {
      Mutation k{str(m, "call"), m.at("vmid").to_number<int64_t>(), std::nullopt, str(m, "at"),
                 m.at("rejected").as_bool(), {}};
      if (!m.at("fencingToken").is_null()) k.token = m.at("fencingToken").to_number<uint64_t>();
      if (m.as_object().contains("idempotencyKey")) k.key = str(m, "idempotencyKey");
      state->mutations.push_back(k);
    }
    const json::object& internal = o.at("internal").as_object();
    for (const auto& n : internal.at("nodes").as_array()) state->nodes.emplace_back(n.as_string());
    for (const auto& [call, list] : internal.at("faults").as_object()) {
      for (const auto& f : list.as_array()) {
        const json::value* exit = f.as_object().if_contains("exitstatus");  // absent: older files
        state->faults[std::string(call)].push_back(Fault{
            str(f, "mode"), f.at("count").to_number<int64_t>(), f.at("status").to_number<int64_t>(),
            f.at("latencyMs").to_number<int64_t>(), exit ? std::string(exit->as_string()) : ""});
      }
    }
    for (const auto& [vmid, at] : internal.at("backupMs").as_object()) {
      state->backups[std::stoll(std::string(vmid))].at_ms = at.to_number<int64_t>();
    }
    if (const json::value* of = internal.if_contains("backupOf")) {  // absent in older state files
      for (const auto& [vmid, b] : of->as_object()) {
        Backup& k = state->backups[std::stoll(std::string(vmid))];
        k.hostname = str(b, "hostname");
        for (const auto& [key, value] : b.at("config").as_object()) k.config[key] = value.as_string();
        k.disk_gb = b.at("diskGb").to_number<int64_t>();
        k.game = str(b, "game");
      }
    }
    if (const json::value* zs = internal.if_contains("zones")) {  // absent in older state files
      for (const auto& [id, name] : zs->as_object()) {
        state->zones[std::string(id)] = std::string(name.as_string());
      }
    }
    // Absent in older state files: nonce de-duplication off, every webhook there.
    if (const json::value* d = internal.if_contains("discordNonceDedup")) {
      state->discord_nonce_dedup = d->as_bool();
    }
    if (const json::value* ws = internal.if_contains("deletedWebhooks")) {
      for (const auto& w : ws->as_array()) state->deleted_webhooks.emplace(w.as_string());
    }
    if (const json::value* os = internal.if_contains("outagesMs")) {  // absent: none
      for (const auto& [service, until] : os->as_object()) {
        state->outages[std::string(service)] = until.to_number<int64_t>();
      }
    }
    LoadProxmoxInternals(internal, *state);
    state->max_token = internal.at("maxToken").to_number<uint64_t>();
    state->tasks = internal.at("tasks").to_number<uint64_t>();
    state->dns_ids = internal.at("dnsIds").to_number<uint64_t>();
  } catch (const std::exception& e) {
    return Corruption(std::string("the state does not have the expected shape: ") + e.what());
  }
  return state;
}

namespace {

// The node of a Proxmox path, /api2/json/nodes/{node}/..., where a task runs.
std::string NodeOfPath(const std::string& path) {
  std::vector<std::string> p = Split(path);
  return p.size() > 3 && p[2] == "nodes" ? p[3] : "";
}

// Whether `call` is one of the Proxmox API's: its refusals are in Proxmox's envelope.
bool IsProxmoxCall(const std::string& call) {
  return call.rfind("proxmox.", 0) == 0 || call.rfind("backup.", 0) == 0;
}

}  // namespace

std::optional<HttpReply> World::State::Begin(const std::string& call, int64_t vmid, bool mutating,
                                             const HttpCall& http, int64_t* delay_ms,
                                             bool* changed) {
  *delay_ms = 0;
  auto refuse = [&](int status, const std::string& message) {
    if (IsProxmoxCall(call)) return PveError(status, message, *delay_ms);
    HttpReply r = ErrorReply(status, message);
    r.delay_ms = *delay_ms;
    return r;
  };
  std::optional<Fault> task_fails;
  auto it = faults.find(call);
  if (it != faults.end() && !it->second.empty()) {
    Fault f = it->second.front();
    if (--it->second.front().count <= 0) it->second.pop_front();
    if (it->second.empty()) faults.erase(it);
    *changed = true;
    if (f.mode == "error") return refuse(static_cast<int>(f.status), "injected fault on " + call);
    if (f.mode == "timeout") {
      // Held unanswered so that the caller's timeout fires; nothing happens.
      *delay_ms = f.latency_ms > 0 ? f.latency_ms : 30'000;
      return refuse(504, "injected timeout on " + call);
    }
    *delay_ms = f.latency_ms;  // latency: served, late; taskFailed: started, then failed
    if (f.mode == "taskFailed") task_fails = f;
  }
  if (!mutating) return std::nullopt;
  Mutation m{call, vmid, std::nullopt, FormatRfc3339(NowMs()), false, {}};
  if (auto key = http.headers.find("x-zlh-idempotency-key"); key != http.headers.end()) {
    m.key = key->second;
  }
  auto header = http.headers.find("x-zlh-fencing-token");
  if (header != http.headers.end()) {
    // Tokens are wall-clock milliseconds under Redis (13 digits and more): up to 19 digits.
    const std::string& text = header->second;
    bool digits = !text.empty() && text.size() <= 19 &&
                  text.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) return refuse(400, "X-ZLH-Fencing-Token: '" + text + "' is not a number");
    m.token = std::stoull(text);
    if (*m.token < max_token) {
      m.rejected = true;
    } else {
      max_token = *m.token;
    }
  }
  mutations.push_back(m);
  *changed = true;
  if (m.rejected) {
    return refuse(
        409, "fencing token " + header->second + " is older than " + std::to_string(max_token));
  }
  if (task_fails) {
    return FailedTask(NodeOfPath(http.path), call, vmid, task_fails->exitstatus, *delay_ms);
  }
  return std::nullopt;
}

std::string World::State::NewTask(const std::string& node, const std::string& kind, int64_t vmid) {
  char upid[128];
  std::snprintf(
      upid, sizeof upid, "UPID:%s:%08llX:00000000:%08llX:%s:%lld:zlh@pve!zlh:", node.c_str(),
      static_cast<unsigned long long>(++tasks), static_cast<unsigned long long>(NowMs() / 1000),
      kind.c_str(), static_cast<long long>(vmid));
  return upid;
}

void World::State::BackUp(const Container& c, int64_t at_ms) {
  auto agent = agents.find(c.vmid);
  backups[c.vmid] = Backup{at_ms, c.hostname, c.config, c.disk_gb,
                           agent == agents.end() ? std::string() : agent->second.game};
}

void World::State::Started(int64_t vmid) {
  Lease(vmid);  // net0 ip=dhcp: the container asks for its address as it comes up
  auto it = agents.find(vmid);
  if (it != agents.end()) it->second.state = "ready";  // a (re)start brings the agent back
}

void World::State::Stopped(int64_t vmid) {
  auto it = agents.find(vmid);
  if (it != agents.end()) {
    it->second.state = "offline";
    it->second.workload = "stopped";
  }
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

namespace {

// The simulated service a request goes to ("" for the simulator's own routes).
std::string ServiceOf(const std::vector<std::string>& p) {
  if (p.size() >= 2 && p[0] == "api2" && p[1] == "json") return "proxmox";
  if (p.size() >= 2 && p[0] == "agents") return "agent";
  if (p.size() >= 2 && p[0] == "proxy") return "proxy";
  if (p.size() >= 2 && p[0] == "client" && p[1] == "v4") return "dns";
  if (p.size() >= 2 && p[0] == "api" && p[1] == "webhooks") return "discord";
  if (p.size() >= 2 && p[0] == "billing") return "billing";
  return "";
}

}  // namespace

HttpReply World::Handle(const HttpCall& call) {
  std::vector<std::string> p = Split(call.path);
  if (auto down = state_->Outage(ServiceOf(p))) return *down;
  bool changed = false;
  HttpReply reply;
  if (p.size() >= 2 && p[0] == "api2" && p[1] == "json") {
    reply = state_->Proxmox(call, p, &changed);
  } else if (p.size() >= 2 && p[0] == "agents") {
    reply = state_->AgentCall(call, p, &changed);
  } else if (p.size() >= 2 && p[0] == "proxy" && p[1] == "servers") {
    reply = state_->ProxyCall(call, p, &changed);
  } else if (p.size() >= 4 && p[0] == "client" && p[1] == "v4" && p[2] == "zones") {
    reply = p.size() == 4 ? state_->ZoneCall(call, p[3]) : state_->DnsCall(call, p, &changed);
  } else if (p.size() == 5 && p[0] == "client" && p[1] == "v4" && p[2] == "user" &&
             p[3] == "tokens" && p[4] == "verify") {
    reply = state_->TokenVerifyCall(call);
  } else if (p.size() == 4 && p[0] == "api" && p[1] == "webhooks") {
    reply = state_->DiscordCall(call, p, &changed);
  } else if (p.size() == 3 && p[0] == "billing" && p[1] == "customers") {
    reply = state_->BillingCall(call, p, &changed);
  } else if (p.size() == 2 && p[0] == "sim" && p[1] == "state") {
    if (call.method != "GET") return ErrorReply(405, "use GET");
    return JsonReply(200, json::parse(StateJson()));
  } else if (p.size() == 2 && p[0] == "sim") {
    if (call.method != "POST") return ErrorReply(405, "use POST");
    reply = state_->SimPost(call, p[1], &changed);
  } else {
    return ErrorReply(404, "no such simulator route: " + call.path);
  }
  if (changed) {
    if (Status s = Save(); !s.ok()) return ErrorReply(500, s.ToString());
  }
  return reply;
}

}  // namespace zlh::sim
