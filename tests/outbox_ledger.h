// What zlh-sim's Discord shows, checked against what zlhd's outbox holds (SPEC §10): every part of
// every entry shown, each channel in the order recorded, nothing shown that no entry holds, and a
// part shown more than once only as often as a restart cut its post. Messages are matched by their
// nonce, which derives from the entry's key and the part (activities::DiscordNonce). Test-only.
#pragma once

#include <boost/json.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "activities/notifier_discord.h"
#include "tests/zlhd_fleet.h"

namespace zlh {

struct DiscordLedger {
  size_t entries = 0;      // notifications whose Discord delivery is delivered
  size_t parts = 0;        // Discord messages those need
  size_t shown = 0;        // messages zlh-sim shows
  size_t repeated = 0;     // shown more than once (all but the first showing of each part)
  size_t interrupted = 0;  // attempts a restart found in flight, over every Discord delivery
  std::vector<std::string> problems;  // what is missing, out of order, unknown or repeated too often
};

// The Discord delivery of notification `n` (its first delivery).
inline boost::json::object DiscordDeliveryOf(const boost::json::object& n) {
  return n.at("deliveries").as_array().at(0).as_object();
}

// Each Discord message zlh-sim shows on `channel`, the first showing of each nonce only, oldest
// first.
inline std::vector<boost::json::object> DistinctMessages(const ZlhdOnSim& z,
                                                         const std::string& channel) {
  std::vector<boost::json::object> out;
  std::set<std::string> seen;
  for (auto& m : z.Messages(channel)) {
    const boost::json::value* nonce = m.if_contains("nonce");
    if (!nonce || seen.insert(std::string(nonce->as_string())).second) out.push_back(std::move(m));
  }
  return out;
}

// The ledger of every channel the outbox has delivered to.
inline DiscordLedger CompareDiscord(const ZlhdOnSim& z) {
  namespace json = boost::json;
  DiscordLedger ledger;
  std::map<std::string, std::vector<json::object>> by_channel;  // delivered entries, oldest first
  for (auto& n : z.Notifications()) {
    json::object d = DiscordDeliveryOf(n);
    ledger.interrupted += d.at("interrupted").to_number<size_t>();
    if (d.at("state").as_string() != "delivered") {
      ledger.problems.push_back("notification " + json::serialize(n.at("id")) + " is " +
                                std::string(d.at("state").as_string()) + ": " + json::serialize(n));
      continue;
    }
    ++ledger.entries;
    by_channel[std::string(n.at("channel").as_string())].push_back(std::move(n));
  }
  for (const auto& [channel, entries] : by_channel) {
    std::vector<std::string> expected;          // nonces in the order recorded
    std::map<std::string, size_t> cut_posts;    // nonce → its entry's interrupted attempts
    for (const auto& n : entries) {
      json::object d = DiscordDeliveryOf(n);
      for (size_t p = 0; p < d.at("parts").to_number<size_t>(); ++p) {
        expected.push_back(activities::DiscordNonce(std::string(n.at("key").as_string()), p));
        cut_posts[expected.back()] = d.at("interrupted").to_number<size_t>();
      }
    }
    ledger.parts += expected.size();
    std::vector<std::string> first_shown;
    std::map<std::string, size_t> times;
    for (const auto& m : z.Messages(channel)) {
      ++ledger.shown;
      const json::value* nonce = m.if_contains("nonce");
      std::string key = nonce ? std::string(nonce->as_string()) : "";
      if (!cut_posts.count(key)) {
        ledger.problems.push_back("#" + channel + " shows a message no entry holds: " +
                                  json::serialize(m));
        continue;
      }
      if (times[key]++ == 0) first_shown.push_back(key);
    }
    if (first_shown != expected) {
      ledger.problems.push_back("#" + channel + " shows " + std::to_string(first_shown.size()) +
                                " of its " + std::to_string(expected.size()) +
                                " messages, or not in the order recorded");
    }
    for (const auto& [nonce, n] : times) {
      ledger.repeated += n - 1;
      if (n - 1 > cut_posts[nonce]) {
        ledger.problems.push_back("#" + channel + " shows nonce " + nonce + " " +
                                  std::to_string(n) + " times; a restart cut only " +
                                  std::to_string(cut_posts[nonce]) + " of its posts");
      }
    }
  }
  return ledger;
}

}  // namespace zlh
