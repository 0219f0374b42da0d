// Lanes (lanes.h): the dispatcher's view of the pending index and its cached entries.
// Thread-safety: none; the dispatcher's thread only.
#include "notify/lanes.h"

#include <algorithm>

#include "fleet/outbox.h"

namespace zlh::notify {
namespace {

constexpr char kDiscordPrefix[] = "discord:";
// A refusal keeps its channel in `failing` this long.
constexpr int64_t kRefusalShownMs = 3'600'000;

// The entries `pending` names, from `cache` when there, else read (without content). An id the
// index holds but whose entry is gone is left out (VerifyDomain reports such a row).
Result<std::map<uint64_t, proto::Notification>> EntriesOf(
    const journal::Journal& journal, const std::map<std::string, std::vector<uint64_t>>& pending,
    const std::map<uint64_t, proto::Notification>& cache) {
  std::map<uint64_t, proto::Notification> out;
  for (const auto& [route, ids] : pending) {
    for (uint64_t id : ids) {
      if (out.count(id)) continue;
      if (auto cached = cache.find(id); cached != cache.end()) {
        out.emplace(id, cached->second);
        continue;
      }
      auto read = fleet::GetNotification(journal, id);
      if (!read.ok()) return read.status();
      if (!read->has_value()) continue;
      (*read)->clear_content();
      out.emplace(id, std::move(**read));
    }
  }
  return out;
}

void Older(LaneView& view, const proto::Notification& n) {
  ++view.pending;
  if (view.oldest_ms == 0 || n.recorded_ms() < view.oldest_ms) view.oldest_ms = n.recorded_ms();
}

}  // namespace

proto::Delivery* FindDelivery(proto::Notification& n, const std::string& route) {
  for (auto& d : *n.mutable_deliveries()) {
    if (d.route() == route) return &d;
  }
  return nullptr;
}

const proto::Delivery* FindDelivery(const proto::Notification& n, const std::string& route) {
  for (const auto& d : n.deliveries()) {
    if (d.route() == route) return &d;
  }
  return nullptr;
}

std::string ChannelOfRoute(const std::string& route) {
  const std::string prefix = kDiscordPrefix;
  return route.rfind(prefix, 0) == 0 ? route.substr(prefix.size()) : "";
}

Status Lanes::Rescan(const journal::Journal& journal) {
  auto pending = fleet::ListPending(journal);
  if (!pending.ok()) return pending.status();
  auto entries = EntriesOf(journal, *pending, entries_);
  if (!entries.ok()) return entries.status();
  entries_ = std::move(*entries);
  for (auto& [route, lane] : lanes_) lane.ids.clear();
  for (const auto& [route, ids] : *pending) {
    Lane& lane = lanes_[route];
    for (uint64_t id : ids) {
      if (entries_.count(id)) lane.ids.push_back(id);
    }
  }
  return Status::Ok();
}

void Lanes::Update(const proto::Notification& n) {
  bool waits = false;
  for (const auto& d : n.deliveries()) {
    std::vector<uint64_t>& ids = lanes_[d.route()].ids;
    auto at = std::lower_bound(ids.begin(), ids.end(), n.id());
    bool listed = at != ids.end() && *at == n.id();
    if (d.state() == proto::DELIVERY_PENDING) {
      waits = true;
      if (!listed) ids.insert(at, n.id());
    } else if (listed) {
      ids.erase(at);
    }
  }
  if (!waits) {
    entries_.erase(n.id());
    return;
  }
  proto::Notification cached = n;
  cached.clear_content();
  entries_[n.id()] = std::move(cached);
}

void Lanes::Forget(const std::string& route, uint64_t id) { std::erase(lanes_[route].ids, id); }

const proto::Notification* Lanes::Head(const std::string& route, bool leads) const {
  auto lane = lanes_.find(route);
  if (lane == lanes_.end()) return nullptr;
  for (uint64_t id : lane->second.ids) {
    const proto::Notification* n = Find(id);
    if (n && (leads || n->origin() == proto::ORIGIN_NODE)) return n;
  }
  return nullptr;
}

const proto::Notification* Lanes::Find(uint64_t id) const {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second;
}

Snapshot Lanes::View(int64_t now_ms, const std::vector<std::string>& channels, bool email) const {
  std::map<std::pair<std::string, std::string>, LaneView> views;
  auto view = [&](const std::string& route, const std::string& channel) -> LaneView& {
    LaneView& v = views[{route, channel}];
    v.route = route;
    v.channel = channel;
    return v;
  };
  auto seen = [&](const std::string& channel) {
    view("discord", channel);
    if (email) view("email", channel);
  };
  for (const auto& channel : channels) seen(channel);
  Snapshot out;
  for (const auto& [route, lane] : lanes_) {
    const std::string channel = ChannelOfRoute(route);
    if (!channel.empty()) seen(channel);
    for (uint64_t id : lane.ids) {
      const proto::Notification* n = Find(id);
      if (!n) continue;
      seen(n->channel());
      Older(view(channel.empty() ? "email" : "discord", n->channel()), *n);
    }
    if (lane.failing || (lane.refused_ms != 0 && now_ms - lane.refused_ms < kRefusalShownMs)) {
      out.failing.push_back(channel.empty() ? route : channel);
    }
  }
  for (auto& [key, v] : views) out.lanes.push_back(std::move(v));
  out.pending = entries_.size();
  for (const auto& [id, n] : entries_) {
    if (out.oldest_ms == 0 || n.recorded_ms() < out.oldest_ms) out.oldest_ms = n.recorded_ms();
  }
  return out;
}

}  // namespace zlh::notify
