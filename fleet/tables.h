// The domain tables of the journal (proto/domain.proto): servers, VMIDs and leases, with the
// indexes that keep names unique and count a customer's live servers, plus two side tables that
// are not folded from events (SPEC §4.6): lease heartbeats and lease waiters. Writes happen only
// inside journal transactions (a transactional step, a workflow's start or end), so every change
// commits atomically with the events that explain it.
//
// Keys (journal::DomainKey(table, key)):
//   's' server id            → proto.Server
//   'n' name                 → server id           (live servers only)
//   'c' customer \0 server   → ""                  (live servers only)
//   'v' vmid (u64 BE)        → server id
//   'a' IPv4 address (u32 BE) → server id          (SPEC §9.1)
//   'l' server id            → proto.Lease
//   'h' server id            → heartbeat time, ms  (side table)
//   'w' server \0 workflow   → ""                  (side table: operations waiting for the lease)
//   'm' server id            → proto.Maintenance
//   'k' customer id          → proto.CustomerBilling
//   'b' billing event id     → ""                  (webhook events already applied)
//   'i' server \0 drift      → proto.Incident      (open incidents of the controller)
//   'r' server id            → proto.Breaker       (repairs in the last hour, per server)
//   'f' redis | journal      → u64 BE              (the newest fencing token decisions were made
//   with)
//   'd' node                 → proto.NodeDrain     (a hypervisor node's drain, SPEC §9.2)
//   'o' id (u64 BE)          → proto.Notification  (the notification outbox, fleet/outbox.h)
//   'p' route \0 id (u64 BE) → ""                  (the outbox's pending deliveries)
//   'q' "next"               → u64 BE              (the outbox's id sequence)
//   'j' "last"               → proto.JournalBackup (the newest verified scheduled backup, SPEC §11)
//
// The outbox is delivery state, not fleet state: like the side tables it is not folded from events.
// Maintenance, node drains and billing change through operator and outside inputs, not workflow
// steps: each change is also a SystemInput event on a system stream, in the same write (SPEC §4.6).
// Thread-safety: free functions; a Txn is used on the journal's writer thread only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "journal/journal.h"
#include "proto/domain.pb.h"

namespace zlh::fleet {

// "queued", "provisioning", ... and back (0 for an unknown name).
std::string ServerStatusName(int status);
int ServerStatusFromName(std::string_view name);
// Failed and deleted servers are not live: their names and quota slots are free again.
bool IsLive(const proto::Server& server);

// ---- servers ----
Result<std::optional<proto::Server>> GetServer(journal::Txn& txn, std::string_view server_id);
Result<std::optional<proto::Server>> ReadServer(const journal::Journal& journal,
                                                std::string_view server_id);
// Writes `server` (updated_ms set now) and keeps the name and customer indexes in step with its
// liveness.
Status PutServer(journal::Txn& txn, proto::Server server);
// The live server named `name`, if any.
Result<std::optional<std::string>> ServerNamed(journal::Txn& txn, std::string_view name);
// How many live servers `customer_id` has.
Result<size_t> LiveServerCount(journal::Txn& txn, std::string_view customer_id);
// Every server, in id order.
Result<std::vector<proto::Server>> ListServers(const journal::Journal& journal);
// The live servers of `customer_id`, in id order. kInvalidArgument for an empty id: no customer
// scope ever widens to everyone's servers.
Result<std::vector<proto::Server>> ListCustomerServers(const journal::Journal& journal,
                                                       std::string_view customer_id);
// One page of every server, newest first: at most `limit` servers whose ids sort before `before`
// (from the newest when empty); `next` is the cursor of the following page, empty at the end.
struct ServerPage {
  std::vector<proto::Server> servers;
  std::string next;
};
Result<ServerPage> ListServersPage(const journal::Journal& journal, std::string_view before,
                                   size_t limit);

// ---- VMIDs ----
// Takes the lowest VMID in [first, last] that no server holds and `in_use` (what the hypervisor
// reports) does not name, for `server_id`. kFailedPrecondition when the range is exhausted.
Result<int64_t> AllocateVmid(journal::Txn& txn, int64_t first, int64_t last,
                             const std::set<int64_t>& in_use, std::string_view server_id);
// Frees `vmid` if `server_id` holds it (a VMID held by another server is left alone).
Status ReleaseVmid(journal::Txn& txn, int64_t vmid, std::string_view server_id);
// vmid → server id, for every allocated VMID.
Result<std::vector<std::pair<int64_t, std::string>>> ListVmids(const journal::Journal& journal);

// ---- addresses (SPEC §9.1) ----
// Takes the lowest address in [first, last] that no server holds and `in_use` (what the
// hypervisor's guests have in their net0) does not name, for `server_id`; nullopt when none is
// free.
Result<std::optional<uint32_t>> AllocateAddress(journal::Txn& txn, uint32_t first, uint32_t last,
                                                const std::set<uint32_t>& in_use,
                                                std::string_view server_id);
// Records `address` (discovered in dhcp mode) as `server_id`'s: on its server record and in the
// address table. kFailedPrecondition naming the holder when another server holds it (its record
// is stale or the DHCP server gave one lease twice), kNotFound when there is no such server, and
// kInvalidArgument when it is no IPv4 address; nothing is written then.
Status RecordAddress(journal::Txn& txn, std::string_view server_id, std::string_view address);
// Frees `address` if `server_id` holds it (an address held by another server is left alone).
Status ReleaseAddress(journal::Txn& txn, std::string_view address, std::string_view server_id);
// address ("10.20.1.10") → server id, for every allocated address, in numeric order.
Result<std::vector<std::pair<std::string, std::string>>> ListAddresses(
    const journal::Journal& journal);
// What the live servers placed on one node take: how many, and how many of each plan (servers
// not placed yet are not counted).
struct NodeUse {
  size_t servers = 0;
  std::map<std::string, size_t> plans;  // plan name → live servers of it
};
// Node name → its use, for every node a live server is placed on.
Result<std::map<std::string, NodeUse>> LiveUsePerNode(journal::Txn& txn);
Result<std::map<std::string, NodeUse>> LiveUsePerNode(const journal::Journal& journal);

// Frees what `server_id` holds — its VMID and its address, each only if the row is its own — and
// marks it `status` (failed or deleted) with no VMID and no address, all inside `txn`. kNotFound
// when there is no such server. Returns what it freed: "released 101, address 10.20.1.10", or
// "no VMID".
Result<std::string> ReleaseServer(journal::Txn& txn, std::string_view server_id,
                                  proto::ServerStatus status);

// ---- leases ----
Result<proto::Lease> GetLease(journal::Txn& txn, std::string_view server_id);
Result<proto::Lease> ReadLease(const journal::Journal& journal, std::string_view server_id);
void PutLease(journal::Txn& txn, const proto::Lease& lease);
// Every lease row (held or not).
Result<std::vector<proto::Lease>> ListLeases(const journal::Journal& journal);
// Clears the lease if `holder` still holds it at `epoch`: the epoch is bumped, and the clearing is
// recorded on "sys.lease.<server>" (SPEC §4.6). False when the lease changed meanwhile.
Result<bool> ClearLease(journal::Txn& txn, const std::string& server_id, const std::string& holder,
                        uint64_t epoch);
// Side tables.
void PutHeartbeat(journal::Batch& batch, std::string_view server_id, int64_t at_ms);
Result<std::optional<int64_t>> ReadHeartbeat(const journal::Journal& journal,
                                             std::string_view server_id);
void AddWaiter(journal::Txn& txn, std::string_view server_id, std::string_view workflow_id);
void RemoveWaiter(journal::Txn& txn, std::string_view server_id, std::string_view workflow_id);
// The oldest waiter (workflow ids are time-ordered: the first recorded), if any.
Result<std::optional<std::string>> FirstWaiter(journal::Txn& txn, std::string_view server_id);

// ---- inputs that are not workflow steps ----
// Appends a SystemInput event to `stream` (at its next seq) inside the transaction.
Status AppendSystemInput(journal::Txn& txn, const std::string& stream, const std::string& kind,
                         const std::string& subject, const std::string& payload);

Result<std::optional<proto::Maintenance>> ReadMaintenance(const journal::Journal& journal,
                                                          std::string_view server_id);
Result<std::optional<proto::Maintenance>> GetMaintenance(journal::Txn& txn, std::string_view server_id);
// Sets the flag and records the input on "sys.maintenance.<server>".
Status SetMaintenance(journal::Txn& txn, const proto::Maintenance& m, const std::string& payload);

// ---- node drains (SPEC §9.2) ----
// Every node's drain record (on or off), in node order.
Result<std::vector<proto::NodeDrain>> ListNodeDrains(journal::Txn& txn);
Result<std::vector<proto::NodeDrain>> ListNodeDrains(const journal::Journal& journal);
// Records `drain` (on or off) and the input on "sys.node.<node>". The node name must not contain a
// zero byte (a stream id never does).
Status SetNodeDrain(journal::Txn& txn, const proto::NodeDrain& drain, const std::string& payload);

// "active" unless a webhook said otherwise.
Result<std::string> ReadBillingStatus(const journal::Journal& journal, std::string_view customer_id);
// Applies billing webhook event `event_id` once: false (nothing changed) when it was applied
// before. `status` empty: recorded without changing the customer's status.
Result<bool> ApplyBillingEvent(journal::Txn& txn, const std::string& event_id,
                               const std::string& customer_id, const std::string& status,
                               const std::string& payload);

// ---- the controller's fencing (SPEC §6.4) ----
// Where a node's fencing token comes from: the Redis lock (wall-clock milliseconds) or, without
// Redis, the journal's open count. Tokens of two sources never compare.
enum class FencingSource { kJournal, kRedis };
// Records `token` as the newest of `source` that decisions were made with. kFailedPrecondition
// (nothing written) when a newer token of the same source is recorded already; kCorruption when
// the record cannot be read.
Status AcceptFencingToken(journal::Txn& txn, FencingSource source, uint64_t token);

// ---- incidents ----
Result<std::vector<proto::Incident>> ListIncidents(journal::Txn& txn);
Result<std::vector<proto::Incident>> ListIncidents(const journal::Journal& journal);
void PutIncident(journal::Txn& txn, const proto::Incident& incident);
void DeleteIncident(journal::Txn& txn, const std::string& server_id, const std::string& drift);
Result<proto::Breaker> GetBreaker(journal::Txn& txn, const std::string& server_id);
void PutBreaker(journal::Txn& txn, const proto::Breaker& breaker);
Result<std::vector<proto::Breaker>> ListBreakers(const journal::Journal& journal);

// ---- the journal's own backups (SPEC §11) ----
// Records `backup` as the newest verified scheduled backup (replacing the one recorded).
void PutLastJournalBackup(journal::Txn& txn, const proto::JournalBackup& backup);
// The newest verified scheduled backup; nullopt when none was recorded. kCorruption when the
// record cannot be read.
Result<std::optional<proto::JournalBackup>> ReadLastJournalBackup(const journal::Journal& journal);

}  // namespace zlh::fleet
