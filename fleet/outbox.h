// The notification outbox (SPEC §10): each notification is an entry recorded in the journal write
// of the decision that caused it, then delivered on its routes (Discord, later email) by a
// dispatcher that records every attempt here. Entries are delivery state, not fleet state: they
// are not folded from events (SPEC §8.7).
//
// Tables (journal::DomainKey(table, key); docs/journal-format.md):
//   'o' id (u64 BE)                 → proto.Notification
//   'p' route \0 id (u64 BE)        → ""     one row per pending delivery; a route's first row is
//                                            the head of its lane
//   'q' "next"                      → u64 BE the id the next entry gets (ids start at 1)
//
// Thread-safety: free functions; a Txn is used on the journal's writer thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "journal/journal.h"
#include "proto/domain.pb.h"

namespace zlh::fleet {

inline constexpr char kEmailRoute[] = "email";
// "discord:" + channel.
std::string DiscordRoute(std::string_view channel);

// What a decision asks to tell.
struct Intent {
  std::string key;  // idempotency key: the Discord nonce of each part, the email Message-ID
  std::string channel;
  std::string content;
  bool ping = false;
  bool digest = false;
  proto::NotificationOrigin origin = proto::ORIGIN_WORKFLOW;
  std::string source;        // workflow id, "watchdog", ...
  uint32_t source_step = 0;  // the step whose write records it; 0 outside workflows
};

// Records `intent` as a new entry, recorded at `now_ms`, with one pending delivery on
// DiscordRoute(channel) (its parts left 0: the dispatcher counts them). Its id is the next of the
// outbox sequence, so ids increase in commit order. Commits with `txn`, or not at all.
// kInvalidArgument (nothing written) for an empty key, channel or content, or a channel with a
// zero byte.
Result<uint64_t> EnqueueNotification(journal::Txn& txn, const Intent& intent, int64_t now_ms);

// The entry `id`, nullopt when there is none (never recorded, or pruned): as `txn` sees it, or as
// committed in `journal`.
Result<std::optional<proto::Notification>> GetNotification(journal::Txn& txn, uint64_t id);
Result<std::optional<proto::Notification>> GetNotification(const journal::Journal& journal,
                                                           uint64_t id);

// Replaces the recorded entry `n.id()` with `n` and keeps the pending index in step: a delivery
// that is pending has its row, any other has none. kNotFound when no entry `n.id()` is recorded;
// kInvalidArgument (nothing written) when two deliveries share a route or a route is empty or has
// a zero byte.
Status PutNotification(journal::Txn& txn, const proto::Notification& n);

// Every pending delivery, from the index: route → ids, lowest (oldest) first.
Result<std::map<std::string, std::vector<uint64_t>>> ListPending(const journal::Journal& journal);

// "pending" while any delivery is pending; "failed" once none is and the Discord delivery failed
// (whatever email did); "delivered" otherwise.
std::string NotificationStatus(const proto::Notification& n);

struct NotificationFilter {
  std::string status;   // "pending", "delivered" or "failed"; "" for every entry
  std::string channel;  // "" for every channel
  uint64_t before = 0;  // only ids below it; 0: from the newest
  size_t limit = 100;
};
struct NotificationPage {
  std::vector<proto::Notification> items;  // newest first
  uint64_t next = 0;  // `before` for the following page; 0 when this one is the last
};
// One page of the entries `filter` selects, newest first. kInvalidArgument for an unknown status
// or a limit of 0.
Result<NotificationPage> ListNotifications(const journal::Journal& journal,
                                           const NotificationFilter& filter);

// The entries recorded at or after `since_ms`, oldest first. Ids follow commit order, and a
// recorded time lags its commit by at most the writer's queue, so the scan from the newest stops
// at the first entry recorded over a minute before `since_ms`.
Result<std::vector<proto::Notification>> NotificationsSince(const journal::Journal& journal,
                                                            int64_t since_ms);

// Deletes, oldest first, entries that are done — delivered whose last delivery ended before
// `delivered_before_ms`, failed whose last ended before `failed_before_ms` — never a pending one.
// Stops after `limit` deletions or at the first entry recorded after both cutoffs. Returns how
// many it deleted.
Result<size_t> PruneNotifications(journal::Txn& txn, int64_t delivered_before_ms,
                                  int64_t failed_before_ms, size_t limit);

// The id the next entry will get (1 on an empty outbox); every recorded id is below it.
Result<uint64_t> NextNotificationId(const journal::Journal& journal);

}  // namespace zlh::fleet
