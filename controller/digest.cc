#include "controller/digest.h"

#include <boost/json.hpp>
#include <map>

#include "base/clock.h"
#include "fleet/tables.h"
#include "journal/format.h"
#include "proto/records.pb.h"

namespace zlh::controller {
namespace {

constexpr int64_t kDayMs = 24 * 3'600'000LL;
constexpr size_t kFailedListed = 10;

std::string StatusName(int status) {
  switch (status) {
    case proto::QUEUED: return "queued";
    case proto::RUNNING: return "running";
    case proto::WAITING: return "waiting";
    case proto::COMPLETED: return "completed";
    case proto::FAILED: return "failed";
    case proto::CANCELLED: return "cancelled";
    default: return "unknown";
  }
}

template <typename Map>
std::string Counts(const Map& counts) {
  std::string out;
  for (const auto& [name, n] : counts) out += (out.empty() ? "" : ", ") + name + " " + std::to_string(n);
  return out.empty() ? "none" : out;
}

}  // namespace

std::string DigestText(const journal::Journal& journal, int64_t now_ms) {
  std::string text = "Daily digest, " + FormatRfc3339(now_ms) + "\n";
  auto servers = fleet::ListServers(journal);
  std::map<std::string, size_t> by_status;
  if (servers.ok()) {
    for (const auto& s : *servers) ++by_status[fleet::ServerStatusName(s.status())];
  }
  text += "Servers: " + (servers.ok() ? Counts(by_status) : "unreadable (" + servers.status().message() + ")") + "\n";

  // Every summary once: repairs and failures of the last day, queue depths.
  std::map<std::string, size_t> repairs, queued;
  size_t failed = 0;
  std::string failed_list;
  (void)journal.Scan(journal::Cf::kSummaries, "", [&](std::string_view, std::string_view raw) {
    proto::WorkflowSummary w;
    if (!w.ParseFromArray(raw.data(), static_cast<int>(raw.size()))) return true;
    if (w.status() == proto::QUEUED) ++queued[w.queue()];
    if (now_ms - w.updated_ms() > kDayMs) return true;
    if (w.type() == "repair" && w.status() >= proto::COMPLETED) ++repairs[StatusName(w.status())];
    if (w.status() == proto::FAILED && ++failed <= kFailedListed) {
      failed_list += "\n- " + w.id() + " (" + w.type() + "): " + w.error().message();
    }
    return true;
  });
  text += "Repairs in the last 24 h: " + Counts(repairs) + "\n";
  text += "Failed workflows in the last 24 h: " + std::to_string(failed) + failed_list +
          (failed > kFailedListed ? "\n- …" : "") + "\n";
  text += "Queued: " + Counts(queued) + "\n";

  size_t missed = 0, missed_twice = 0;
  auto incidents = fleet::ListIncidents(journal);
  if (incidents.ok()) {
    for (const auto& i : *incidents) {
      missed += i.drift() == "backup_missed";
      missed_twice += i.drift() == "backup_missed_twice";
    }
  }
  text += "Backups: " + (!incidents.ok() ? "unknown (" + incidents.status().message() + ")"
                         : missed + missed_twice == 0
                             ? std::string("every server within its schedule")
                             : std::to_string(missed) + " server(s) missed one, " +
                                   std::to_string(missed_twice) + " missed two or more");
  return text;
}

workflows::StartRequest DigestStart(int64_t day) {
  workflows::StartRequest req;
  req.type = kDigest;
  req.input = boost::json::serialize(boost::json::object{{"day", day}});
  req.dedup_key = "digest\x1f" + std::to_string(day);
  return req;
}

}  // namespace zlh::controller
