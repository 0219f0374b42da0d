// Lanes: the dispatcher's in-memory view of the outbox — one lane per route ("discord:<channel>",
// "email") holding its pending entries in id order, and a cache of those entries without their
// content (read once, then kept current from the dispatcher's own writes: nothing else changes a
// delivery). The journal stays the truth; a rescan of the pending index brings in new entries and
// drops those no longer pending.
//
// Thread-safety: none; the dispatcher's thread only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "journal/journal.h"
#include "notify/snapshot.h"
#include "proto/domain.pb.h"

namespace zlh::notify {

// A route's lane.
struct Lane {
  std::vector<uint64_t> ids;  // pending on this route, lowest first
  bool busy = false;          // an attempt is in flight
  uint32_t failures = 0;      // attempts in a row that did not deliver: the backoff's count
  bool failing = false;       // the last attempt did not deliver
  int64_t refused_ms = 0;     // the last refusal; 0 when none
  int64_t hold_until_ms = 0;  // no attempt before: the journal refused the attempt's write
};

// The delivery of `n` on `route`; null when it has none.
proto::Delivery* FindDelivery(proto::Notification& n, const std::string& route);
const proto::Delivery* FindDelivery(const proto::Notification& n, const std::string& route);

class Lanes {
 public:
  // Re-reads the pending index: every route's pending ids; entries seen for the first time are
  // read (and cached without content), entries no longer pending are forgotten. An error of the
  // journal leaves the view as it was.
  Status Rescan(const journal::Journal& journal);
  // Takes `n` as it is now recorded (after a write of this node): its cached copy and the lanes
  // it waits in follow it.
  void Update(const proto::Notification& n);
  // Takes entry `id` out of `route`'s lane until a rescan finds it pending there again (a write
  // found it no longer was).
  void Forget(const std::string& route, uint64_t id);

  // The first entry of `route` this node may deliver — any when it `leads`, else the first of
  // NODE origin — or null.
  const proto::Notification* Head(const std::string& route, bool leads) const;
  const proto::Notification* Find(uint64_t id) const;
  // Every cached entry (those with a delivery pending), by id.
  const std::map<uint64_t, proto::Notification>& entries() const { return entries_; }
  std::map<std::string, Lane>& lanes() { return lanes_; }

  // The gauges and failing channels as of `now_ms`: every channel in `channels` and every channel
  // seen, on Discord, and on email too when `email`.
  Snapshot View(int64_t now_ms, const std::vector<std::string>& channels, bool email) const;

 private:
  std::map<std::string, Lane> lanes_;
  std::map<uint64_t, proto::Notification> entries_;
};

// The channel of a route's lane: "discord:<channel>" → <channel>; "" for email (its entries name
// theirs).
std::string ChannelOfRoute(const std::string& route);

}  // namespace zlh::notify
