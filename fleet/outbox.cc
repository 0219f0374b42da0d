// The notification outbox's tables (outbox.h): entries by id, the pending index by route, and the
// id sequence. Every key is built here and nowhere else.
// Thread-safety: as its header says (free functions; a Txn on the writer thread only).
#include "fleet/outbox.h"

#include <algorithm>
#include <set>

#include "fleet/codec.h"
#include "journal/format.h"

namespace zlh::fleet {
namespace {

using journal::Cf;

constexpr char kEntries = 'o';
constexpr char kPending = 'p';
constexpr char kSequence = 'q';
constexpr size_t kIdBytes = 8;
// How far an entry's recorded time may run behind one with a lower id (NotificationsSince).
constexpr int64_t kRecordedSkewMs = 60'000;

std::string IdBytes(uint64_t id) {
  std::string k;
  journal::PutU64(&k, id);
  return k;
}

std::string EntryKey(uint64_t id) { return journal::DomainKey(kEntries, IdBytes(id)); }
std::string EntryPrefix() { return journal::DomainKey(kEntries, ""); }
std::string NextKey() { return journal::DomainKey(kSequence, "next"); }

std::string PendingKey(std::string_view route, uint64_t id) {
  std::string k(route);
  k.push_back('\0');
  return journal::DomainKey(kPending, k + IdBytes(id));
}

// A pending row's route and id; nullopt when the key is not one.
std::optional<std::pair<std::string, uint64_t>> ParsePendingKey(std::string_view key) {
  std::string_view rest = key.substr(1);
  if (rest.size() <= kIdBytes || rest[rest.size() - kIdBytes - 1] != '\0') return std::nullopt;
  std::string_view route = rest.substr(0, rest.size() - kIdBytes - 1);
  return std::make_pair(std::string(route), journal::GetU64(rest.substr(rest.size() - kIdBytes)));
}

// A scan visitor that hands `visit` each entry parsed, and stops, setting `bad`, at one that
// cannot be.
template <typename Visit>
auto Entries(Status& bad, Visit visit) {
  return [&bad, visit](std::string_view, std::string_view v) mutable {
    proto::Notification n;
    if (!n.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      bad = Corruption("unreadable notification record");
      return false;
    }
    return visit(std::move(n));
  };
}

// The next id in `source` (a Journal or a Txn).
template <typename Source>
Result<uint64_t> ReadNextId(Source& source) {
  auto raw = source.Get(Cf::kDomain, NextKey());
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return uint64_t{1};
  if ((*raw)->size() != kIdBytes) return Corruption("unreadable outbox sequence");
  return journal::GetU64(**raw);
}

Status CheckRoute(std::string_view route) {
  if (route.empty()) return InvalidArgument("notification: a delivery has no route");
  if (route.find('\0') != std::string_view::npos) {
    return InvalidArgument("notification: a route has a zero byte");
  }
  return Status::Ok();
}

Status CheckIntent(const Intent& intent) {
  if (intent.key.empty()) return InvalidArgument("notification: key: required");
  if (intent.channel.empty()) return InvalidArgument("notification: channel: required");
  if (intent.content.empty()) return InvalidArgument("notification: content: required");
  if (intent.channel.find('\0') != std::string::npos) {
    return InvalidArgument("notification: channel: has a zero byte");
  }
  return Status::Ok();
}

Status CheckDeliveries(const proto::Notification& n) {
  std::set<std::string_view> routes;
  for (const auto& d : n.deliveries()) {
    ZLH_RETURN_IF_ERROR(CheckRoute(d.route()));
    if (!routes.insert(d.route()).second) {
      return InvalidArgument("notification " + std::to_string(n.id()) + ": two deliveries on " +
                             d.route());
    }
  }
  return Status::Ok();
}

proto::Notification NewEntry(uint64_t id, const Intent& intent, int64_t now_ms) {
  proto::Notification n;
  n.set_id(id);
  n.set_key(intent.key);
  n.set_channel(intent.channel);
  n.set_content(intent.content);
  n.set_ping(intent.ping);
  n.set_digest(intent.digest);
  n.set_recorded_ms(now_ms);
  n.set_origin(intent.origin);
  n.set_source(intent.source);
  n.set_source_step(intent.source_step);
  proto::Delivery* discord = n.add_deliveries();
  discord->set_route(DiscordRoute(intent.channel));
  discord->set_state(proto::DELIVERY_PENDING);
  discord->set_added_ms(now_ms);
  return n;
}

// Writes `n` and a pending row for each of its pending deliveries (rows it had before are the
// caller's to delete).
void WriteEntry(journal::Txn& txn, const proto::Notification& n) {
  for (const auto& d : n.deliveries()) {
    if (d.state() == proto::DELIVERY_PENDING)
      txn.Put(Cf::kDomain, PendingKey(d.route(), n.id()), "");
  }
  txn.Put(Cf::kDomain, EntryKey(n.id()), n.SerializeAsString());
}

bool IsStatusName(std::string_view status) {
  return status.empty() || status == "pending" || status == "delivered" || status == "failed";
}

bool Selected(const proto::Notification& n, const NotificationFilter& filter) {
  return (filter.channel.empty() || n.channel() == filter.channel) &&
         (filter.status.empty() || NotificationStatus(n) == filter.status);
}

// When the entry's last delivery ended (0 while none has).
int64_t DoneMs(const proto::Notification& n) {
  int64_t done = 0;
  for (const auto& d : n.deliveries()) done = std::max(done, d.done_ms());
  return done;
}

bool Prunable(const proto::Notification& n, int64_t delivered_before_ms, int64_t failed_before_ms) {
  std::string status = NotificationStatus(n);
  if (status == "delivered") return DoneMs(n) < delivered_before_ms;
  if (status == "failed") return DoneMs(n) < failed_before_ms;
  return false;
}

}  // namespace

std::string DiscordRoute(std::string_view channel) { return "discord:" + std::string(channel); }

Result<uint64_t> EnqueueNotification(journal::Txn& txn, const Intent& intent, int64_t now_ms) {
  ZLH_RETURN_IF_ERROR(CheckIntent(intent));
  auto id = ReadNextId(txn);
  if (!id.ok()) return id.status();
  WriteEntry(txn, NewEntry(*id, intent, now_ms));
  txn.Put(Cf::kDomain, NextKey(), IdBytes(*id + 1));
  return *id;
}

Result<std::optional<proto::Notification>> GetNotification(journal::Txn& txn, uint64_t id) {
  return codec::Decode<proto::Notification>(txn.Get(Cf::kDomain, EntryKey(id)), "notification");
}

Result<std::optional<proto::Notification>> GetNotification(const journal::Journal& journal,
                                                           uint64_t id) {
  return codec::Decode<proto::Notification>(journal.Get(Cf::kDomain, EntryKey(id)), "notification");
}

Status PutNotification(journal::Txn& txn, const proto::Notification& n) {
  ZLH_RETURN_IF_ERROR(CheckDeliveries(n));
  auto old = GetNotification(txn, n.id());
  if (!old.ok()) return old.status();
  if (!old->has_value())
    return NotFound("notification " + std::to_string(n.id()) + " is not recorded");
  for (const auto& d : (*old)->deliveries()) {
    if (d.state() == proto::DELIVERY_PENDING)
      txn.Delete(Cf::kDomain, PendingKey(d.route(), n.id()));
  }
  WriteEntry(txn, n);
  return Status::Ok();
}

Result<std::map<std::string, std::vector<uint64_t>>> ListPending(const journal::Journal& journal) {
  std::map<std::string, std::vector<uint64_t>> out;
  Status bad;
  auto visit = [&](std::string_view k, std::string_view) {
    auto row = ParsePendingKey(k);
    if (!row) {
      bad = Corruption("unreadable pending notification row");
      return false;
    }
    out[row->first].push_back(row->second);
    return true;
  };
  ZLH_RETURN_IF_ERROR(journal.Scan(Cf::kDomain, journal::DomainKey(kPending, ""), visit));
  ZLH_RETURN_IF_ERROR(bad);
  return out;
}

std::string NotificationStatus(const proto::Notification& n) {
  bool discord_failed = false;
  for (const auto& d : n.deliveries()) {
    if (d.state() == proto::DELIVERY_PENDING) return "pending";
    if (d.route().starts_with("discord:") && d.state() == proto::DELIVERY_FAILED) {
      discord_failed = true;
    }
  }
  return discord_failed ? "failed" : "delivered";
}

Result<NotificationPage> ListNotifications(const journal::Journal& journal,
                                           const NotificationFilter& filter) {
  if (!IsStatusName(filter.status)) {
    return InvalidArgument("status: must be pending, delivered or failed, not '" + filter.status +
                           "'");
  }
  if (filter.limit == 0) return InvalidArgument("limit: must be at least 1");
  NotificationPage page;
  Status bad;
  std::string from = filter.before == 0 ? "" : EntryKey(filter.before);
  auto visit = [&](proto::Notification n) {
    if (!Selected(n, filter)) return true;
    if (page.items.size() == filter.limit) {
      page.next = page.items.back().id();
      return false;
    }
    page.items.push_back(std::move(n));
    return true;
  };
  ZLH_RETURN_IF_ERROR(journal.ScanBefore(Cf::kDomain, EntryPrefix(), from, Entries(bad, visit)));
  ZLH_RETURN_IF_ERROR(bad);
  return page;
}

Result<std::vector<proto::Notification>> NotificationsSince(const journal::Journal& journal,
                                                            int64_t since_ms) {
  std::vector<proto::Notification> out;
  Status bad;
  auto visit = [&](proto::Notification n) {
    if (n.recorded_ms() < since_ms - kRecordedSkewMs) return false;
    if (n.recorded_ms() >= since_ms) out.push_back(std::move(n));
    return true;
  };
  ZLH_RETURN_IF_ERROR(journal.ScanBefore(Cf::kDomain, EntryPrefix(), "", Entries(bad, visit)));
  ZLH_RETURN_IF_ERROR(bad);
  std::reverse(out.begin(), out.end());
  return out;
}

Result<size_t> PruneNotifications(journal::Txn& txn, int64_t delivered_before_ms,
                                  int64_t failed_before_ms, size_t limit) {
  const int64_t last_cutoff = std::max(delivered_before_ms, failed_before_ms);
  std::vector<uint64_t> doomed;
  Status bad;
  auto visit = [&](proto::Notification n) {
    // Recorded after both cutoffs, it cannot have ended before either; the entries after it were
    // recorded later still (nearly: ids follow commit order) and wait for a later prune.
    if (doomed.size() == limit || n.recorded_ms() >= last_cutoff) return false;
    if (Prunable(n, delivered_before_ms, failed_before_ms)) doomed.push_back(n.id());
    return true;
  };
  ZLH_RETURN_IF_ERROR(txn.Scan(Cf::kDomain, EntryPrefix(), Entries(bad, visit)));
  ZLH_RETURN_IF_ERROR(bad);
  for (uint64_t id : doomed) txn.Delete(Cf::kDomain, EntryKey(id));
  return doomed.size();
}

Result<uint64_t> NextNotificationId(const journal::Journal& journal) { return ReadNextId(journal); }

}  // namespace zlh::fleet
