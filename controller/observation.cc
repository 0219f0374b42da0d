#include "controller/observation.h"

#include <boost/json.hpp>

namespace zlh::controller {
namespace {

namespace json = boost::json;

std::string Str(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}
bool Bool(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_bool() && v->as_bool();
}
int64_t Int(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_int64() ? v->as_int64() : 0;
}

Result<json::value> Parse(const std::string& text, const char* what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Status(Code::kCorruption, std::string(what) + ": " + ec.message());
  return v;
}

}  // namespace

std::string ToJson(const Observation& o) {
  json::array servers;
  for (const auto& s : o.servers) {
    servers.push_back(json::object{{"serverId", s.server_id},
                                   {"customerId", s.customer_id},
                                   {"stoppedByBilling", s.stopped_by_billing},
                                   {"name", s.name},
                                   {"ctype", s.ctype},
                                   {"vmid", s.vmid},
                                   {"status", s.status},
                                   {"leaseHeld", s.lease_held},
                                   {"maintenance", s.maintenance},
                                   {"nodeDrained", s.node_drained},
                                   {"containerKnown", s.container_known},
                                   {"containerExists", s.container_exists},
                                   {"containerStatus", s.container_status},
                                   {"agentKnown", s.agent_known},
                                   {"agent", s.agent},
                                   {"workload", s.workload},
                                   {"dnsKnown", s.dns_known},
                                   {"dnsA", s.dns_a_ok},
                                   {"dnsSrv", s.dns_srv_ok},
                                   {"proxyKnown", s.proxy_known},
                                   {"proxy", s.proxy_ok},
                                   {"node", s.node},
                                   {"address", s.address},
                                   {"repairsInFlight", s.repairs_in_flight},
                                   {"openProposal", s.open_proposal},
                                   {"createdMs", s.created_ms},
                                   {"backupsKnown", s.backups_known},
                                   {"lastBackupMs", s.last_backup_ms}});
  }
  json::array leases;
  for (const auto& l : o.stale_leases) {
    leases.push_back(json::object{{"serverId", l.server_id}, {"holder", l.holder}, {"epoch", l.epoch},
                                  {"holderState", l.holder_state}, {"silentMs", l.silent_ms}});
  }
  json::array stuck;
  for (const auto& w : o.stuck) {
    stuck.push_back(json::object{{"workflowId", w.workflow_id}, {"type", w.type}, {"silentMs", w.silent_ms},
                                 {"step", w.step}});
  }
  json::array customers;
  for (const auto& c : o.customers) {
    customers.push_back(json::object{{"customerId", c.customer_id}, {"recorded", c.recorded},
                                     {"billing", c.billing}});
  }
  json::array errors(o.errors.begin(), o.errors.end());
  return json::serialize(json::object{{"tick", o.tick},
                                      {"observedMs", o.observed_ms},
                                      {"customers", std::move(customers)},
                                      {"stuck", std::move(stuck)},
                                      {"servers", std::move(servers)},
                                      {"staleLeases", std::move(leases)},
                                      {"errors", std::move(errors)},
                                      {"healthyServers", o.healthy_servers},
                                      {"journalBackupMs", o.journal_backup_ms}});
}

Result<Observation> ParseObservation(const std::string& text) {
  auto v = Parse(text, "observation");
  if (!v.ok()) return v.status();
  if (!v->is_object()) return Status(Code::kCorruption, "observation: not an object");
  const json::object& o = v->as_object();
  Observation out;
  out.tick = Int(o, "tick");
  out.observed_ms = Int(o, "observedMs");
  out.healthy_servers = Int(o, "healthyServers");
  out.journal_backup_ms = Int(o, "journalBackupMs");
  if (auto* list = o.if_contains("servers"); list && list->is_array()) {
    for (const auto& item : list->as_array()) {
      if (!item.is_object()) continue;
      const json::object& s = item.as_object();
      ServerObservation so;
      so.server_id = Str(s, "serverId");
      so.customer_id = Str(s, "customerId");
      so.stopped_by_billing = Bool(s, "stoppedByBilling");
      so.name = Str(s, "name");
      so.ctype = Str(s, "ctype");
      so.vmid = Int(s, "vmid");
      so.node = Str(s, "node");
      so.address = Str(s, "address");  // absent in observations recorded before addresses
      so.created_ms = Int(s, "createdMs");
      so.backups_known = Bool(s, "backupsKnown");
      so.last_backup_ms = Int(s, "lastBackupMs");
      so.repairs_in_flight = Int(s, "repairsInFlight");
      so.open_proposal = Bool(s, "openProposal");
      so.status = Str(s, "status");
      so.lease_held = Bool(s, "leaseHeld");
      so.maintenance = Bool(s, "maintenance");
      so.node_drained = Bool(s, "nodeDrained");
      so.container_known = Bool(s, "containerKnown");
      so.container_exists = Bool(s, "containerExists");
      so.container_status = Str(s, "containerStatus");
      so.agent_known = Bool(s, "agentKnown");
      so.agent = Str(s, "agent");
      so.workload = Str(s, "workload");
      so.dns_known = Bool(s, "dnsKnown");
      so.dns_a_ok = Bool(s, "dnsA");
      so.dns_srv_ok = Bool(s, "dnsSrv");
      so.proxy_known = Bool(s, "proxyKnown");
      so.proxy_ok = Bool(s, "proxy");
      out.servers.push_back(std::move(so));
    }
  }
  if (auto* stuck = o.if_contains("stuck"); stuck && stuck->is_array()) {
    for (const auto& item : stuck->as_array()) {
      if (!item.is_object()) continue;
      const json::object& w = item.as_object();
      out.stuck.push_back({Str(w, "workflowId"), Str(w, "type"), Int(w, "silentMs"), Str(w, "step")});
    }
  }
  if (auto* customers = o.if_contains("customers"); customers && customers->is_array()) {
    for (const auto& item : customers->as_array()) {
      if (!item.is_object()) continue;
      const json::object& c = item.as_object();
      out.customers.push_back({Str(c, "customerId"), Str(c, "recorded"), Str(c, "billing")});
    }
  }
  if (auto* leases = o.if_contains("staleLeases"); leases && leases->is_array()) {
    for (const auto& item : leases->as_array()) {
      if (!item.is_object()) continue;
      const json::object& l = item.as_object();
      out.stale_leases.push_back({Str(l, "serverId"), Str(l, "holder"),
                                  static_cast<uint64_t>(Int(l, "epoch")), Str(l, "holderState"),
                                  Int(l, "silentMs")});
    }
  }
  if (auto* errors = o.if_contains("errors"); errors && errors->is_array()) {
    for (const auto& e : errors->as_array()) {
      if (e.is_string()) out.errors.emplace_back(e.as_string());
    }
  }
  return out;
}

std::string ToJson(const std::vector<Decision>& decisions) {
  json::array out;
  for (const auto& d : decisions) {
    out.push_back(json::object{{"serverId", d.server_id}, {"drift", d.drift}, {"rule", d.rule},
                               {"level", d.level},        {"action", d.action}, {"repair", d.repair},
                               {"holder", d.holder},      {"epoch", d.epoch},
                               {"value", d.value},        {"subject", d.subject},
                               {"customerId", d.customer_id}});
  }
  return json::serialize(out);
}

Result<std::vector<Decision>> ParseDecisions(const std::string& text) {
  auto v = Parse(text, "decisions");
  if (!v.ok()) return v.status();
  if (!v->is_array()) return Status(Code::kCorruption, "decisions: not an array");
  std::vector<Decision> out;
  for (const auto& item : v->as_array()) {
    if (!item.is_object()) continue;
    const json::object& d = item.as_object();
    out.push_back({Str(d, "serverId"), Str(d, "drift"), Str(d, "rule"),
                   static_cast<int>(Int(d, "level")), Str(d, "action"), Str(d, "repair"),
                   Str(d, "holder"), static_cast<uint64_t>(Int(d, "epoch")), Str(d, "value"),
                   Str(d, "subject"), Str(d, "customerId")});
    Decision& last = out.back();
    const std::string kLegacyPrefix = "customer:";
    if (last.action == "billing_apply" && last.customer_id.empty() &&
        last.server_id.rfind(kLegacyPrefix, 0) == 0) {
      // Recorded before decisions carried customerId: the customer was only in the incident key.
      last.customer_id = last.server_id.substr(kLegacyPrefix.size());
    }
  }
  return out;
}

}  // namespace zlh::controller
