#include "fleet/tables.h"

#include "base/clock.h"
#include "base/ipv4.h"
#include "fleet/codec.h"
#include "journal/format.h"

namespace zlh::fleet {
namespace {

using codec::Decode;
using codec::DecodeAll;
using journal::Cf;

constexpr char kServers = 's';
constexpr char kNames = 'n';
constexpr char kCustomers = 'c';
constexpr char kVmids = 'v';
constexpr char kAddresses = 'a';
constexpr char kLeases = 'l';
constexpr char kHeartbeats = 'h';
constexpr char kWaiters = 'w';
constexpr char kMaintenance = 'm';
constexpr char kBilling = 'k';
constexpr char kBillingEvents = 'b';
constexpr char kIncidents = 'i';
constexpr char kBreakers = 'r';
constexpr char kFencing = 'f';
constexpr char kNodeDrains = 'd';
constexpr char kJournalBackups = 'j';

std::string Key(char table, std::string_view key) { return journal::DomainKey(table, key); }

std::string Pair(std::string_view a, std::string_view b) {
  std::string k(a);
  k.push_back('\0');
  k.append(b);
  return k;
}

std::string VmidKey(int64_t vmid) {
  std::string k;
  journal::PutU64(&k, static_cast<uint64_t>(vmid));
  return Key(kVmids, k);
}

std::string AddressKey(uint32_t address) {
  std::string k;
  journal::PutU32(&k, address);
  return Key(kAddresses, k);
}

Result<proto::Lease> LeaseOf(Result<std::optional<proto::Lease>> found, std::string_view server_id) {
  if (!found.ok()) return found.status();
  if (found->has_value()) return std::move(**found);
  proto::Lease free;
  free.set_server_id(std::string(server_id));
  return free;
}

}  // namespace

std::string ServerStatusName(int status) {
  switch (status) {
    case proto::SERVER_QUEUED: return "queued";
    case proto::SERVER_PROVISIONING: return "provisioning";
    case proto::SERVER_RUNNING: return "running";
    case proto::SERVER_STOPPED: return "stopped";
    case proto::SERVER_FAILED: return "failed";
    case proto::SERVER_DELETED: return "deleted";
    default: return "unspecified";
  }
}

int ServerStatusFromName(std::string_view name) {
  for (int s = proto::SERVER_QUEUED; s <= proto::SERVER_DELETED; ++s) {
    if (ServerStatusName(s) == name) return s;
  }
  return 0;
}

bool IsLive(const proto::Server& server) {
  return server.status() != proto::SERVER_FAILED && server.status() != proto::SERVER_DELETED;
}

Result<std::optional<proto::Server>> GetServer(journal::Txn& txn, std::string_view server_id) {
  return Decode<proto::Server>(txn.Get(Cf::kDomain, Key(kServers, server_id)), "server");
}

Result<std::optional<proto::Server>> ReadServer(const journal::Journal& journal,
                                                std::string_view server_id) {
  return Decode<proto::Server>(journal.Get(Cf::kDomain, Key(kServers, server_id)), "server");
}

Status PutServer(journal::Txn& txn, proto::Server server) {
  auto old = GetServer(txn, server.server_id());
  if (!old.ok()) return old.status();
  if (old->has_value() && IsLive(**old)) {
    txn.Delete(Cf::kDomain, Key(kNames, (*old)->name()));
    txn.Delete(Cf::kDomain, Key(kCustomers, Pair((*old)->customer_id(), server.server_id())));
  }
  if (IsLive(server)) {
    txn.Put(Cf::kDomain, Key(kNames, server.name()), server.server_id());
    txn.Put(Cf::kDomain, Key(kCustomers, Pair(server.customer_id(), server.server_id())), "");
  }
  server.set_updated_ms(NowMs());
  txn.Put(Cf::kDomain, Key(kServers, server.server_id()), server.SerializeAsString());
  return Status::Ok();
}

Result<std::optional<std::string>> ServerNamed(journal::Txn& txn, std::string_view name) {
  return txn.Get(Cf::kDomain, Key(kNames, name));
}

Result<size_t> LiveServerCount(journal::Txn& txn, std::string_view customer_id) {
  size_t n = 0;
  Status s = txn.Scan(Cf::kDomain, Key(kCustomers, Pair(customer_id, "")),
                      [&](std::string_view, std::string_view) {
                        ++n;
                        return true;
                      });
  if (!s.ok()) return s;
  return n;
}

Result<std::vector<proto::Server>> ListServers(const journal::Journal& journal) {
  return DecodeAll<proto::Server>(journal, kServers, "server");
}

Result<std::vector<proto::Server>> ListCustomerServers(const journal::Journal& journal,
                                                       std::string_view customer_id) {
  if (customer_id.empty()) return InvalidArgument("customerId: required");
  std::vector<proto::Server> out;
  std::string prefix = Key(kCustomers, Pair(customer_id, ""));
  std::vector<std::string> ids;
  Status s = journal.Scan(Cf::kDomain, prefix, [&](std::string_view k, std::string_view) {
    ids.emplace_back(k.substr(prefix.size()));
    return true;
  });
  if (!s.ok()) return s;
  for (const auto& id : ids) {
    auto server = ReadServer(journal, id);
    if (!server.ok()) return server.status();
    if (server->has_value()) out.push_back(std::move(**server));
  }
  return out;
}

Result<ServerPage> ListServersPage(const journal::Journal& journal, std::string_view before,
                                   size_t limit) {
  ServerPage page;
  Status bad;
  std::string prefix = Key(kServers, "");
  std::string from = before.empty() ? "" : Key(kServers, before);
  ZLH_RETURN_IF_ERROR(journal.ScanBefore(Cf::kDomain, prefix, from,
                                         [&](std::string_view, std::string_view v) {
    if (page.servers.size() == limit) {
      page.next = page.servers.back().server_id();
      return false;
    }
    proto::Server server;
    if (!server.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      bad = Status(Code::kCorruption, "unreadable server record");
      return false;
    }
    page.servers.push_back(std::move(server));
    return true;
  }));
  ZLH_RETURN_IF_ERROR(bad);
  return page;
}

Result<int64_t> AllocateVmid(journal::Txn& txn, int64_t first, int64_t last,
                             const std::set<int64_t>& in_use, std::string_view server_id) {
  // Allocated VMIDs are keyed in numeric order: walk the range beside them.
  std::set<int64_t> taken;
  Status s = txn.Scan(Cf::kDomain, Key(kVmids, ""), [&](std::string_view k, std::string_view) {
    taken.insert(static_cast<int64_t>(journal::GetU64(k.substr(1))));
    return true;
  });
  if (!s.ok()) return s;
  for (int64_t vmid = first; vmid <= last; ++vmid) {
    if (taken.count(vmid) || in_use.count(vmid)) continue;
    txn.Put(Cf::kDomain, VmidKey(vmid), std::string(server_id));
    return vmid;
  }
  return FailedPrecondition("no free VMID in " + std::to_string(first) + "-" +
                            std::to_string(last));
}

Status ReleaseVmid(journal::Txn& txn, int64_t vmid, std::string_view server_id) {
  auto owner = txn.Get(Cf::kDomain, VmidKey(vmid));
  if (!owner.ok()) return owner.status();
  if (owner->has_value() && **owner == server_id) txn.Delete(Cf::kDomain, VmidKey(vmid));
  return Status::Ok();
}

Result<std::vector<std::pair<int64_t, std::string>>> ListVmids(const journal::Journal& journal) {
  std::vector<std::pair<int64_t, std::string>> out;
  Status s = journal.Scan(Cf::kDomain, Key(kVmids, ""), [&](std::string_view k, std::string_view v) {
    out.emplace_back(static_cast<int64_t>(journal::GetU64(k.substr(1))), std::string(v));
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::optional<uint32_t>> AllocateAddress(journal::Txn& txn, uint32_t first, uint32_t last,
                                                const std::set<uint32_t>& in_use,
                                                std::string_view server_id) {
  std::set<uint32_t> taken;
  Status s = txn.Scan(Cf::kDomain, Key(kAddresses, ""), [&](std::string_view k, std::string_view) {
    taken.insert(journal::GetU32(k.substr(1)));
    return true;
  });
  if (!s.ok()) return s;
  // Each step past `first` skips a held or used address: this ends within their count + 1.
  for (uint64_t a = first; a <= last; ++a) {
    auto address = static_cast<uint32_t>(a);
    if (taken.count(address) || in_use.count(address)) continue;
    txn.Put(Cf::kDomain, AddressKey(address), std::string(server_id));
    return std::optional<uint32_t>(address);
  }
  return std::optional<uint32_t>();
}

Status RecordAddress(journal::Txn& txn, std::string_view server_id, std::string_view address) {
  auto parsed = ParseIpv4(address);
  if (!parsed) return InvalidArgument("'" + std::string(address) + "' is not an IPv4 address");
  auto server = GetServer(txn, server_id);
  if (!server.ok()) return server.status();
  if (!server->has_value()) return NotFound("server " + std::string(server_id) + " does not exist");
  auto holder = txn.Get(Cf::kDomain, AddressKey(*parsed));
  if (!holder.ok()) return holder.status();
  if (holder->has_value() && **holder != server_id) {
    return FailedPrecondition("address " + std::string(address) + " is recorded for server " +
                              **holder + " (a stale record, or a lease given twice)");
  }
  const std::string& before = (*server)->address();
  if (!before.empty() && before != address) ZLH_RETURN_IF_ERROR(ReleaseAddress(txn, before, server_id));
  txn.Put(Cf::kDomain, AddressKey(*parsed), std::string(server_id));
  (*server)->set_address(std::string(address));
  return PutServer(txn, **server);
}

Status ReleaseAddress(journal::Txn& txn, std::string_view address, std::string_view server_id) {
  auto parsed = ParseIpv4(address);
  if (!parsed) return Status::Ok();
  auto owner = txn.Get(Cf::kDomain, AddressKey(*parsed));
  if (!owner.ok()) return owner.status();
  if (owner->has_value() && **owner == server_id) txn.Delete(Cf::kDomain, AddressKey(*parsed));
  return Status::Ok();
}

Result<std::vector<std::pair<std::string, std::string>>> ListAddresses(
    const journal::Journal& journal) {
  std::vector<std::pair<std::string, std::string>> out;
  Status s =
      journal.Scan(Cf::kDomain, Key(kAddresses, ""), [&](std::string_view k, std::string_view v) {
        out.emplace_back(FormatIpv4(journal::GetU32(k.substr(1))), std::string(v));
        return true;
      });
  if (!s.ok()) return s;
  return out;
}

namespace {

template <typename Source>
Result<std::map<std::string, NodeUse>> UsePerNode(Source& source) {
  auto servers = DecodeAll<proto::Server>(source, kServers, "server");
  if (!servers.ok()) return servers.status();
  std::map<std::string, NodeUse> out;
  for (const auto& s : *servers) {
    if (!IsLive(s) || s.node().empty()) continue;
    NodeUse& use = out[s.node()];
    ++use.servers;
    ++use.plans[s.plan()];
  }
  return out;
}

}  // namespace

Result<std::map<std::string, NodeUse>> LiveUsePerNode(journal::Txn& txn) { return UsePerNode(txn); }

Result<std::map<std::string, NodeUse>> LiveUsePerNode(const journal::Journal& journal) {
  return UsePerNode(journal);
}

Result<std::string> ReleaseServer(journal::Txn& txn, std::string_view server_id,
                                  proto::ServerStatus status) {
  auto server = GetServer(txn, server_id);
  if (!server.ok()) return server.status();
  if (!server->has_value()) return NotFound("server " + std::string(server_id) + " does not exist");
  proto::Server& s = **server;
  std::string freed;
  if (s.vmid() != 0) {
    ZLH_RETURN_IF_ERROR(ReleaseVmid(txn, s.vmid(), server_id));
    freed = "released " + std::to_string(s.vmid());
  }
  if (!s.address().empty()) {
    ZLH_RETURN_IF_ERROR(ReleaseAddress(txn, s.address(), server_id));
    freed += (freed.empty() ? "released address " : ", address ") + s.address();
  }
  // No VMID or address any more: a later deletion must not act on one another server may hold.
  s.set_vmid(0);
  s.clear_address();
  s.set_status(status);
  ZLH_RETURN_IF_ERROR(PutServer(txn, s));
  return freed.empty() ? std::string("no VMID") : freed;
}

Result<proto::Lease> GetLease(journal::Txn& txn, std::string_view server_id) {
  return LeaseOf(Decode<proto::Lease>(txn.Get(Cf::kDomain, Key(kLeases, server_id)), "lease"),
                 server_id);
}

Result<proto::Lease> ReadLease(const journal::Journal& journal, std::string_view server_id) {
  return LeaseOf(Decode<proto::Lease>(journal.Get(Cf::kDomain, Key(kLeases, server_id)), "lease"),
                 server_id);
}

void PutLease(journal::Txn& txn, const proto::Lease& lease) {
  txn.Put(Cf::kDomain, Key(kLeases, lease.server_id()), lease.SerializeAsString());
}

Result<std::vector<proto::Lease>> ListLeases(const journal::Journal& journal) {
  return DecodeAll<proto::Lease>(journal, kLeases, "lease");
}

Result<bool> ClearLease(journal::Txn& txn, const std::string& server_id, const std::string& holder,
                        uint64_t epoch) {
  auto lease = GetLease(txn, server_id);
  if (!lease.ok()) return lease.status();
  if (lease->holder() != holder || lease->epoch() != epoch) return false;
  lease->clear_holder();
  lease->clear_acquired_ms();
  lease->set_epoch(epoch + 1);
  PutLease(txn, *lease);
  std::string payload = "{\"epoch\":" + std::to_string(epoch + 1) + ",\"clearedHolder\":\"" + holder + "\"}";
  ZLH_RETURN_IF_ERROR(AppendSystemInput(txn, "sys.lease." + server_id, "lease", server_id, payload));
  return true;
}

void PutHeartbeat(journal::Batch& batch, std::string_view server_id, int64_t at_ms) {
  std::string v;
  journal::PutU64(&v, static_cast<uint64_t>(at_ms));
  batch.Put(Cf::kDomain, Key(kHeartbeats, server_id), std::move(v));
}

Result<std::optional<int64_t>> ReadHeartbeat(const journal::Journal& journal,
                                             std::string_view server_id) {
  auto raw = journal.Get(Cf::kDomain, Key(kHeartbeats, server_id));
  if (!raw.ok()) return raw.status();
  if (!raw->has_value() || (*raw)->size() != 8) return std::optional<int64_t>();
  return std::optional<int64_t>(static_cast<int64_t>(journal::GetU64(**raw)));
}

void AddWaiter(journal::Txn& txn, std::string_view server_id, std::string_view workflow_id) {
  txn.Put(Cf::kDomain, Key(kWaiters, Pair(server_id, workflow_id)), "");
}

void RemoveWaiter(journal::Txn& txn, std::string_view server_id, std::string_view workflow_id) {
  txn.Delete(Cf::kDomain, Key(kWaiters, Pair(server_id, workflow_id)));
}

Result<std::optional<std::string>> FirstWaiter(journal::Txn& txn, std::string_view server_id) {
  std::string prefix = Key(kWaiters, Pair(server_id, ""));
  std::optional<std::string> first;
  Status s = txn.Scan(Cf::kDomain, prefix, [&](std::string_view k, std::string_view) {
    first = std::string(k.substr(prefix.size()));
    return false;
  });
  if (!s.ok()) return s;
  return first;
}

Status AppendSystemInput(journal::Txn& txn, const std::string& stream, const std::string& kind,
                         const std::string& subject, const std::string& payload) {
  uint64_t last = 0;
  ZLH_RETURN_IF_ERROR(txn.Scan(Cf::kEvents, journal::EventPrefix(stream),
                               [&](std::string_view k, std::string_view) {
                                 last = journal::EventKeySeq(k);
                                 return true;
                               }));
  proto::Event e;
  e.set_seq(last + 1);
  e.set_time_ms(NowMs());
  auto* in = e.mutable_system_input();
  in->set_kind(kind);
  in->set_subject(subject);
  in->set_payload(payload);
  txn.Put(Cf::kEvents, journal::EventKey(stream, e.seq()), e.SerializeAsString());
  return Status::Ok();
}

Result<std::optional<proto::Maintenance>> ReadMaintenance(const journal::Journal& journal,
                                                          std::string_view server_id) {
  return Decode<proto::Maintenance>(journal.Get(Cf::kDomain, Key(kMaintenance, server_id)),
                                    "maintenance");
}

Result<std::optional<proto::Maintenance>> GetMaintenance(journal::Txn& txn, std::string_view server_id) {
  return Decode<proto::Maintenance>(txn.Get(Cf::kDomain, Key(kMaintenance, server_id)), "maintenance");
}

Status SetMaintenance(journal::Txn& txn, const proto::Maintenance& m, const std::string& payload) {
  txn.Put(Cf::kDomain, Key(kMaintenance, m.server_id()), m.SerializeAsString());
  return AppendSystemInput(txn, "sys.maintenance." + m.server_id(), "maintenance", m.server_id(),
                           payload);
}

Result<std::vector<proto::NodeDrain>> ListNodeDrains(journal::Txn& txn) {
  return DecodeAll<proto::NodeDrain>(txn, kNodeDrains, "node drain");
}

Result<std::vector<proto::NodeDrain>> ListNodeDrains(const journal::Journal& journal) {
  return DecodeAll<proto::NodeDrain>(journal, kNodeDrains, "node drain");
}

Status SetNodeDrain(journal::Txn& txn, const proto::NodeDrain& drain, const std::string& payload) {
  txn.Put(Cf::kDomain, Key(kNodeDrains, drain.node()), drain.SerializeAsString());
  return AppendSystemInput(txn, "sys.node." + drain.node(), "drain", drain.node(), payload);
}

Result<std::string> ReadBillingStatus(const journal::Journal& journal, std::string_view customer_id) {
  auto b = Decode<proto::CustomerBilling>(journal.Get(Cf::kDomain, Key(kBilling, customer_id)),
                                          "billing");
  if (!b.ok()) return b.status();
  return b->has_value() ? (*b)->status() : std::string("active");
}

Result<bool> ApplyBillingEvent(journal::Txn& txn, const std::string& event_id,
                               const std::string& customer_id, const std::string& status,
                               const std::string& payload) {
  auto seen = txn.Get(Cf::kDomain, Key(kBillingEvents, event_id));
  if (!seen.ok()) return seen.status();
  if (seen->has_value()) return false;
  txn.Put(Cf::kDomain, Key(kBillingEvents, event_id), "");
  if (!status.empty()) {
    proto::CustomerBilling b;
    b.set_customer_id(customer_id);
    b.set_status(status);
    b.set_updated_ms(NowMs());
    b.set_last_event_id(event_id);
    txn.Put(Cf::kDomain, Key(kBilling, customer_id), b.SerializeAsString());
  }
  ZLH_RETURN_IF_ERROR(
      AppendSystemInput(txn, "sys.billing." + customer_id, "billing", customer_id, payload));
  return true;
}

Result<std::vector<proto::Incident>> ListIncidents(journal::Txn& txn) {
  return DecodeAll<proto::Incident>(txn, kIncidents, "incident");
}

Result<std::vector<proto::Incident>> ListIncidents(const journal::Journal& journal) {
  return DecodeAll<proto::Incident>(journal, kIncidents, "incident");
}

void PutIncident(journal::Txn& txn, const proto::Incident& incident) {
  txn.Put(Cf::kDomain, Key(kIncidents, Pair(incident.server_id(), incident.drift())),
          incident.SerializeAsString());
}

void DeleteIncident(journal::Txn& txn, const std::string& server_id, const std::string& drift) {
  txn.Delete(Cf::kDomain, Key(kIncidents, Pair(server_id, drift)));
}

Result<proto::Breaker> GetBreaker(journal::Txn& txn, const std::string& server_id) {
  auto found = Decode<proto::Breaker>(txn.Get(Cf::kDomain, Key(kBreakers, server_id)), "breaker");
  if (!found.ok()) return found.status();
  if (found->has_value()) return std::move(**found);
  proto::Breaker b;
  b.set_server_id(server_id);
  return b;
}

void PutBreaker(journal::Txn& txn, const proto::Breaker& breaker) {
  txn.Put(Cf::kDomain, Key(kBreakers, breaker.server_id()), breaker.SerializeAsString());
}

Result<std::vector<proto::Breaker>> ListBreakers(const journal::Journal& journal) {
  return DecodeAll<proto::Breaker>(journal, kBreakers, "breaker");
}

void PutLastJournalBackup(journal::Txn& txn, const proto::JournalBackup& backup) {
  txn.Put(Cf::kDomain, Key(kJournalBackups, "last"), backup.SerializeAsString());
}

Result<std::optional<proto::JournalBackup>> ReadLastJournalBackup(const journal::Journal& journal) {
  return Decode<proto::JournalBackup>(journal.Get(Cf::kDomain, Key(kJournalBackups, "last")),
                                      "journal backup");
}

Status AcceptFencingToken(journal::Txn& txn, FencingSource source, uint64_t token) {
  std::string key = Key(kFencing, source == FencingSource::kRedis ? "redis" : "journal");
  auto stored = txn.Get(Cf::kDomain, key);
  if (!stored.ok()) return stored.status();
  if (stored->has_value()) {
    if ((*stored)->size() != 8) return Status(Code::kCorruption, "unreadable fencing record");
    uint64_t newest = journal::GetU64(**stored);
    if (token < newest) {
      return FailedPrecondition("fencing: token " + std::to_string(token) + " is older than " +
                                std::to_string(newest) +
                                ", already recorded: this node's decisions are refused");
    }
  }
  std::string value;
  journal::PutU64(&value, token);
  txn.Put(Cf::kDomain, key, value);
  return Status::Ok();
}

}  // namespace zlh::fleet
