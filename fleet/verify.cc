#include "fleet/verify.h"

#include <limits>
#include <map>
#include <set>

#include "fleet/outbox.h"
#include "fleet/tables.h"
#include "journal/format.h"

namespace zlh::fleet {
namespace {

using workflows::Violation;

bool Terminal(int status) {
  return status == proto::COMPLETED || status == proto::FAILED || status == proto::CANCELLED;
}

// Addresses as VMIDs (SPEC §9.1): never named by two live servers; every held address belongs to
// a live server that names it; every live server's address is held by it.
void VerifyAddresses(const std::vector<proto::Server>& servers,
                     const std::vector<std::pair<std::string, std::string>>& rows,
                     std::vector<Violation>& out) {
  std::map<std::string, const proto::Server*> by_id;
  std::map<std::string, std::string> claimed;  // address → the live server that names it
  for (const auto& s : servers) {
    by_id[s.server_id()] = &s;
    if (!IsLive(s) || s.address().empty()) continue;
    auto [it, fresh] = claimed.emplace(s.address(), s.server_id());
    if (!fresh) {
      out.push_back({"address " + s.address(),
                     "named by two live servers, " + it->second + " and " + s.server_id()});
    }
  }
  std::map<std::string, std::string> held(rows.begin(), rows.end());
  for (const auto& [address, owner] : held) {
    std::string subject = "address " + address;
    auto s = by_id.find(owner);
    if (s == by_id.end()) {
      out.push_back({subject, "allocated to " + owner + ", which does not exist"});
    } else if (!IsLive(*s->second)) {
      out.push_back({subject, "still allocated to " + owner + ", which is " +
                                  ServerStatusName(s->second->status())});
    } else if (s->second->address() != address) {
      out.push_back({subject, "allocated to " + owner + ", whose record names address '" +
                                  s->second->address() + "'"});
    }
  }
  for (const auto& [address, server] : claimed) {
    auto row = held.find(address);
    if (row == held.end() || row->second != server) {
      out.push_back({"server " + server, "names address " + address + " without holding it"});
    }
  }
}

// The outbox (SPEC §10): the pending index holds exactly the pending deliveries, and every id is
// below the sequence's next.
Status VerifyOutbox(const journal::Journal& journal, std::vector<Violation>& out) {
  auto next = NextNotificationId(journal);
  if (!next.ok()) return next.status();
  NotificationFilter all;
  all.limit = std::numeric_limits<size_t>::max();
  auto entries = ListNotifications(journal, all);
  if (!entries.ok()) return entries.status();
  auto rows = ListPending(journal);
  if (!rows.ok()) return rows.status();
  std::set<std::pair<std::string, uint64_t>> indexed, pending;
  for (const auto& [route, ids] : *rows) {
    for (uint64_t id : ids) indexed.emplace(route, id);
  }
  for (const auto& n : entries->items) {
    std::string subject = "notification " + std::to_string(n.id());
    if (n.id() >= *next) out.push_back({subject, "not below the next id " + std::to_string(*next)});
    for (const auto& d : n.deliveries()) {
      if (d.state() != proto::DELIVERY_PENDING) continue;
      pending.emplace(d.route(), n.id());
      if (!indexed.count({d.route(), n.id()})) {
        out.push_back({subject, "its delivery on " + d.route() + " is pending but not indexed"});
      }
    }
  }
  for (const auto& [route, id] : indexed) {
    if (!pending.count({route, id})) {
      out.push_back({"pending row " + route + " " + std::to_string(id),
                     "names no pending delivery of notification " + std::to_string(id)});
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Violation>> VerifyDomain(const journal::Journal& journal) {
  std::vector<Violation> out;
  auto servers = ListServers(journal);
  if (!servers.ok()) return servers.status();
  auto vmids = ListVmids(journal);
  if (!vmids.ok()) return vmids.status();
  auto addresses = ListAddresses(journal);
  if (!addresses.ok()) return addresses.status();
  VerifyAddresses(*servers, *addresses, out);

  std::map<std::string, const proto::Server*> by_id;
  std::map<int64_t, std::string> claimed;  // vmid → the live server that names it
  for (const auto& s : *servers) {
    by_id[s.server_id()] = &s;
    if (!IsLive(s) || s.vmid() == 0) continue;
    auto [it, fresh] = claimed.emplace(s.vmid(), s.server_id());
    if (!fresh) {
      out.push_back({"vmid " + std::to_string(s.vmid()),
                     "named by two live servers, " + it->second + " and " + s.server_id()});
    }
  }
  std::map<int64_t, std::string> rows(vmids->begin(), vmids->end());
  for (const auto& [vmid, owner] : rows) {
    auto s = by_id.find(owner);
    if (s == by_id.end()) {
      out.push_back({"vmid " + std::to_string(vmid), "allocated to " + owner + ", which does not exist"});
    } else if (!IsLive(*s->second)) {
      out.push_back({"vmid " + std::to_string(vmid),
                     "still allocated to " + owner + ", which is " +
                         ServerStatusName(s->second->status())});
    } else if (s->second->vmid() != vmid) {
      out.push_back({"vmid " + std::to_string(vmid),
                     "allocated to " + owner + ", whose record names VMID " +
                         std::to_string(s->second->vmid())});
    }
  }
  for (const auto& [vmid, server] : claimed) {
    auto row = rows.find(vmid);
    if (row == rows.end() || row->second != server) {
      out.push_back({"server " + server, "names VMID " + std::to_string(vmid) + " without holding it"});
    }
  }

  // The name and customer indexes hold exactly the live servers.
  std::map<std::string, std::string> names;
  Status s = journal.Scan(journal::Cf::kDomain, journal::DomainKey('n', ""),
                          [&](std::string_view k, std::string_view v) {
                            names.emplace(std::string(k.substr(1)), std::string(v));
                            return true;
                          });
  if (!s.ok()) return s;
  for (const auto& server : *servers) {
    auto it = names.find(server.name());
    bool indexed = it != names.end() && it->second == server.server_id();
    if (IsLive(server) && !indexed) {
      out.push_back({"server " + server.server_id(), "live, but its name '" + server.name() + "' is not indexed to it"});
    }
  }
  for (const auto& [name, id] : names) {
    auto server = by_id.find(id);
    if (server == by_id.end() || !IsLive(*server->second) || server->second->name() != name) {
      out.push_back({"name " + name, "indexed to " + id + ", which is not a live server of that name"});
    }
  }

  // Leases: held only by a workflow that exists and has not ended.
  s = journal.Scan(journal::Cf::kDomain, journal::DomainKey('l', ""),
                   [&](std::string_view, std::string_view v) {
                     proto::Lease lease;
                     if (!lease.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
                       out.push_back({"lease", "unreadable record"});
                       return true;
                     }
                     if (lease.holder().empty()) return true;
                     auto summary = journal.ReadSummary(lease.holder());
                     std::string subject = "lease of " + lease.server_id();
                     if (!summary.ok() || !summary->has_value()) {
                       out.push_back({subject, "held by " + lease.holder() + ", which does not exist"});
                     } else if (Terminal((*summary)->status())) {
                       out.push_back({subject, "held by " + lease.holder() + ", which has ended"});
                     }
                     return true;
                   });
  if (!s.ok()) return s;
  ZLH_RETURN_IF_ERROR(VerifyOutbox(journal, out));
  return out;
}

}  // namespace zlh::fleet
