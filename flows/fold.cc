#include "flows/fold.h"

#include <algorithm>
#include <boost/json.hpp>
#include <tuple>

#include "fleet/tables.h"
#include "flows/flows.h"
#include "flows/inputs.h"
#include "flows/placement.h"
#include "journal/format.h"

namespace zlh::flows {
namespace {

namespace json = boost::json;

// A change made under a lease: (epoch, seq within its workflow) orders them.
struct LeasedChange {
  uint64_t epoch;
  std::string workflow;
  uint64_t seq;
  std::string server;
  int status;
  bool release_vmid;
};

bool Ended(const proto::Event& e) {
  return e.has_workflow_completed() || e.has_workflow_failed() || e.has_workflow_cancelled();
}

// Folds one provisioning's history into its server.
void FoldProvision(const std::vector<proto::Event>& events, FoldedDomain& out) {
  auto in = ParseProvisionInput(events.front().workflow_started().input());
  if (!in.ok()) return;
  proto::Server s;
  s.set_server_id(in->server_id);
  s.set_customer_id(in->customer_id);
  s.set_ctype(in->ctype);
  s.set_name(in->name);
  s.set_game(in->game);
  s.set_plan(in->plan);
  s.set_status(proto::SERVER_QUEUED);
  std::string node;
  bool ran = false;
  for (const auto& e : events) {
    if (e.has_step_completed()) {
      ran = true;
      const auto& c = e.step_completed();
      if (c.name() == "allocate_vmid") {
        auto a = ParseAllocation(c.result());
        if (!a.ok()) continue;
        s.set_vmid(a->vmid);
        s.set_node(a->node);  // "" in histories from before the node was chosen here
        s.set_address(a->address);
        s.set_status(proto::SERVER_PROVISIONING);
      } else if (c.name() == "allocate_address") {
        node = c.result().substr(0, c.result().find(' '));
        s.set_node(node);
        s.set_address(c.result().substr(c.result().find(' ') + 1));
      } else if (c.name() == "record_address") {  // dhcp mode: discovered after the start
        s.set_address(c.result());
      } else if (c.name() == "create_container") {
        node = c.result();
      } else if (c.name() == "mark_ready") {
        s.set_status(proto::SERVER_RUNNING);
        s.set_node(node);
      } else if (c.name() == "release_vmid") {
        s.set_vmid(0);
        s.clear_address();
        s.set_status(proto::SERVER_FAILED);
      }
    } else if (e.has_step_failed() || e.has_step_started() || e.has_timer_scheduled()) {
      ran = true;
    } else if (e.has_workflow_cancelled() && !ran) {
      s.set_status(proto::SERVER_FAILED);  // cancelled in its queue
    }
  }
  out.servers[s.server_id()] = s;
}

// Collects the lease acquisitions and leased changes of an operation or a deletion.
void FoldLeased(const std::string& id, const std::string& type,
                const std::vector<proto::Event>& events, FoldedDomain& out,
                std::vector<LeasedChange>& changes) {
  auto in = ParseOperationInput(events.front().workflow_started().input());
  if (!in.ok()) return;
  uint64_t epoch = 0;
  for (const auto& e : events) {
    if (!e.has_step_completed()) continue;
    const auto& c = e.step_completed();
    if (c.name() == "acquire_lease") {
      epoch = std::stoull(c.result().substr(0, c.result().find(' ')));
      proto::Lease& lease = out.leases[in->server_id];
      if (epoch > lease.epoch()) {
        lease.set_server_id(in->server_id);
        lease.set_epoch(epoch);
        lease.set_holder(Ended(events.back()) ? "" : id);
      }
    } else if (c.name() == "set_status") {
      changes.push_back({epoch, id, e.seq(), in->server_id,
                         fleet::ServerStatusFromName(c.result()), false});
    } else if (c.name() == "release_vmid" && type == kDeprovision) {
      changes.push_back({epoch, id, e.seq(), in->server_id, proto::SERVER_DELETED, true});
    }
  }
}

// The last SystemInput payload of each stream with `prefix`, by the stream's subject.
Result<std::map<std::string, std::string>> LastInputs(const journal::Journal& j, const std::string& prefix) {
  std::map<std::string, std::string> out;
  Status bad;
  Status s = j.Scan(journal::Cf::kEvents, prefix, [&](std::string_view, std::string_view v) {
    proto::Event e;
    if (!e.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      bad = Status(Code::kCorruption, "an event under " + prefix + " cannot be decoded");
      return false;
    }
    if (e.has_system_input()) out[e.system_input().subject()] = e.system_input().payload();
    return true;
  });
  ZLH_RETURN_IF_ERROR(s);
  ZLH_RETURN_IF_ERROR(bad);
  return out;
}

// Whether a maintenance or drain input's payload ({"on": true, "reason": ...}) turns it on.
bool SaysOn(const std::string& payload) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  const json::value* on = !ec && v.is_object() ? v.as_object().if_contains("on") : nullptr;
  return on && on->is_bool() && on->as_bool();
}

std::string BillingStatusOf(const std::string& payload, const std::string& before) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec || !v.is_object()) return before;
  const json::value* type = v.as_object().if_contains("type");
  if (!type || !type->is_string()) return before;
  if (type->as_string() == "customer.suspended") return "suspended";
  if (type->as_string() == "customer.reactivated" || type->as_string() == "invoice.paid") return "active";
  return before;
}

// The node drain table against the drains the inputs folded to.
Status VerifyDrains(const journal::Journal& journal, const std::map<std::string, bool>& folded,
                    std::vector<workflows::Violation>& out) {
  auto drains = fleet::ListNodeDrains(journal);
  if (!drains.ok()) return drains.status();
  std::map<std::string, bool> table;
  for (const auto& d : *drains) table[d.node()] = d.on();
  for (const auto& [node, on] : folded) {
    auto it = table.find(node);
    bool table_on = it != table.end() && it->second;
    if (table_on != on) {
      out.push_back({"drain of node " + node, std::string("the table says ") +
                                                  (table_on ? "on" : "off") + ", the events say " +
                                                  (on ? "on" : "off")});
    }
  }
  for (const auto& [node, on] : table) {
    if (!folded.count(node)) out.push_back({"drain of node " + node, "in the table, but no input set it"});
  }
  return Status::Ok();
}

}  // namespace

Result<FoldedDomain> FoldDomain(const journal::Journal& journal) {
  FoldedDomain out;
  std::vector<LeasedChange> changes;
  std::vector<std::pair<std::string, std::string>> workflows;  // (id, type)
  Status bad;
  ZLH_RETURN_IF_ERROR(journal.Scan(journal::Cf::kSummaries, "", [&](std::string_view k, std::string_view v) {
    proto::WorkflowSummary s;
    if (!s.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      bad = Status(Code::kCorruption, "summary of " + std::string(k) + " cannot be decoded");
      return false;
    }
    if (s.type() == kProvision || s.type() == kOperation || s.type() == kDeprovision) {
      workflows.emplace_back(std::string(k), s.type());
    }
    return true;
  }));
  ZLH_RETURN_IF_ERROR(bad);
  for (const auto& [id, type] : workflows) {
    auto events = journal.ReadEvents(id);
    if (!events.ok()) return events.status();
    if (events->empty() || !events->front().has_workflow_started()) continue;
    if (type == kProvision) {
      FoldProvision(*events, out);
    } else {
      FoldLeased(id, type, *events, out, changes);
    }
  }
  std::sort(changes.begin(), changes.end(), [](const LeasedChange& a, const LeasedChange& b) {
    return std::tie(a.epoch, a.workflow, a.seq) < std::tie(b.epoch, b.workflow, b.seq);
  });
  for (const auto& c : changes) {
    auto it = out.servers.find(c.server);
    if (it == out.servers.end()) continue;
    it->second.set_status(static_cast<proto::ServerStatus>(c.status));
    if (c.release_vmid) {
      it->second.set_vmid(0);
      it->second.clear_address();
    }
  }

  // A cleared lease (the controller's housekeeping) is free at the epoch the clearing set.
  auto cleared = LastInputs(journal, "sys.lease.");
  if (!cleared.ok()) return cleared.status();
  for (const auto& [server, payload] : *cleared) {
    boost::system::error_code ec;
    json::value v = json::parse(payload, ec);
    if (ec || !v.is_object() || !v.as_object().contains("epoch")) continue;
    uint64_t epoch = v.as_object().at("epoch").to_number<uint64_t>();
    proto::Lease& lease = out.leases[server];
    if (epoch >= lease.epoch()) {
      lease.set_server_id(server);
      lease.set_epoch(epoch);
      lease.clear_holder();
    }
  }
  auto maintenance = LastInputs(journal, "sys.maintenance.");
  if (!maintenance.ok()) return maintenance.status();
  for (const auto& [server, payload] : *maintenance) out.maintenance[server] = SaysOn(payload);
  auto drains = LastInputs(journal, "sys.node.");
  if (!drains.ok()) return drains.status();
  for (const auto& [node, payload] : *drains) out.drained[node] = SaysOn(payload);
  // Billing: every input of each customer's stream, in order (not only the last one changes it).
  Status s = journal.Scan(journal::Cf::kEvents, "sys.billing.", [&](std::string_view, std::string_view v) {
    proto::Event e;
    if (!e.ParseFromArray(v.data(), static_cast<int>(v.size())) || !e.has_system_input()) return true;
    const std::string& customer = e.system_input().subject();
    auto [it, fresh] = out.billing.emplace(customer, "active");
    it->second = BillingStatusOf(e.system_input().payload(), it->second);
    return true;
  });
  ZLH_RETURN_IF_ERROR(s);
  return out;
}

Result<std::vector<workflows::Violation>> VerifyFold(const journal::Journal& journal) {
  auto folded = FoldDomain(journal);
  if (!folded.ok()) return folded.status();
  std::vector<workflows::Violation> out;
  auto servers = fleet::ListServers(journal);
  if (!servers.ok()) return servers.status();
  std::map<std::string, proto::Server> table;
  for (auto& s : *servers) table[s.server_id()] = std::move(s);
  for (const auto& [id, f] : folded->servers) {
    std::string subject = "server " + id;
    auto it = table.find(id);
    if (it == table.end()) {
      out.push_back({subject, "its provisioning's history makes it, but the table has no row"});
      continue;
    }
    const proto::Server& t = it->second;
    if (t.status() != f.status()) {
      out.push_back({subject, "the table says " + fleet::ServerStatusName(t.status()) +
                                  ", the events say " + fleet::ServerStatusName(f.status())});
    }
    if (t.vmid() != f.vmid()) {
      out.push_back({subject, "the table says VMID " + std::to_string(t.vmid()) +
                                  ", the events say " + std::to_string(f.vmid())});
    }
    if (t.address() != f.address()) {
      out.push_back({subject, "the table says address '" + t.address() + "', the events say '" +
                                  f.address() + "'"});
    }
    if (t.node() != f.node() && f.status() != proto::SERVER_FAILED) {
      out.push_back({subject, "the table says node '" + t.node() + "', the events say '" + f.node() + "'"});
    }
    if (t.name() != f.name() || t.customer_id() != f.customer_id()) {
      out.push_back({subject, "name or customer differ from its provisioning's input"});
    }
  }
  for (const auto& [id, t] : table) {
    if (!folded->servers.count(id)) out.push_back({"server " + id, "in the table, but no provisioning made it"});
  }
  for (const auto& [server, f] : folded->leases) {
    auto t = fleet::ReadLease(journal, server);
    if (!t.ok()) return t.status();
    if (t->epoch() != f.epoch() || t->holder() != f.holder()) {
      out.push_back({"lease of " + server,
                     "the table says epoch " + std::to_string(t->epoch()) + " held by '" +
                         t->holder() + "', the events say epoch " + std::to_string(f.epoch()) +
                         " held by '" + f.holder() + "'"});
    }
  }
  for (const auto& [server, on] : folded->maintenance) {
    auto t = fleet::ReadMaintenance(journal, server);
    if (!t.ok()) return t.status();
    bool table_on = t->has_value() && (*t)->on();
    if (table_on != on) {
      out.push_back({"maintenance of " + server,
                     std::string("the table says ") + (table_on ? "on" : "off") + ", the events say " +
                         (on ? "on" : "off")});
    }
  }
  ZLH_RETURN_IF_ERROR(VerifyDrains(journal, folded->drained, out));
  for (const auto& [customer, status] : folded->billing) {
    auto t = fleet::ReadBillingStatus(journal, customer);
    if (!t.ok()) return t.status();
    if (*t != status) {
      out.push_back({"billing of " + customer, "the table says " + *t + ", the events say " + status});
    }
  }
  return out;
}

}  // namespace zlh::flows
