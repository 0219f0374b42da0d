#include "controller/digest.h"

#include <map>

#include "base/clock.h"
#include "base/duration.h"
#include "controller/controller.h"
#include "fleet/outbox.h"
#include "fleet/tables.h"
#include "journal/format.h"
#include "proto/records.pb.h"

namespace zlh::controller {
namespace {

constexpr int64_t kDayMs = 24 * 3'600'000LL;
constexpr size_t kFailedListed = 10;
constexpr int64_t kLateMs = 60'000;  // a notification shown later than this after it was recorded

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

// `text`'s first line, cut to 80 characters at a character boundary.
std::string Headline(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() <= 80) return line;
  size_t n = 80;
  while (n > 0 && (static_cast<unsigned char>(line[n]) & 0xC0) == 0x80) --n;
  return line.substr(0, n) + "…";
}

// What became of the day's notifications (SPEC §10): how many were recorded, shown on Discord (and
// how many of those over a minute late), refused, still waiting, and emailed; the late, the
// refused and the waiting listed.
std::string OutboxSummary(const journal::Journal& journal, int64_t now_ms) {
  auto day = fleet::NotificationsSince(journal, now_ms - kDayMs);
  if (!day.ok()) return "Notifications: unknown (" + day.status().message() + ")";
  size_t shown = 0, late = 0, refused = 0, waiting = 0, emailed = 0, listed = 0;
  std::string list;
  auto note = [&](const proto::Notification& n, const std::string& what) {
    if (++listed > kFailedListed) return;
    list += "\n- #" + n.channel() + " \"" + Headline(n.content()) + "\": " + what;
  };
  for (const auto& n : *day) {
    if (n.deliveries_size() == 0) continue;  // not written so; nothing to tell
    const proto::Delivery& discord = n.deliveries(0);
    bool by_email = false;
    for (const auto& d : n.deliveries()) {
      by_email |= d.route() == fleet::kEmailRoute && d.state() == proto::DELIVERY_DELIVERED;
    }
    emailed += by_email;
    std::string emailed_too = by_email ? ", emailed" : "";
    if (discord.state() == proto::DELIVERY_PENDING) {
      ++waiting;
      note(n, "waiting for " + FormatDuration(Millis(now_ms - n.recorded_ms())) +
                  (discord.last_error().empty() ? "" : " (" + discord.last_error() + ")") +
                  emailed_too);
    } else if (discord.state() == proto::DELIVERY_FAILED) {
      ++refused;
      note(n, "refused (" + discord.last_error() + ")" + emailed_too);
    } else {
      ++shown;
      int64_t after = discord.done_ms() - n.recorded_ms();
      if (after > kLateMs) {
        ++late;
        note(n, "shown " + FormatDuration(Millis(after)) + " after it was recorded" + emailed_too);
      }
    }
  }
  return "Notifications in the last 24 h: " + std::to_string(day->size()) + " recorded, " +
         std::to_string(shown) + " shown on Discord (" + std::to_string(late) +
         " over a minute late), " + std::to_string(refused) + " refused, " +
         std::to_string(waiting) + " waiting; " + std::to_string(emailed) + " emailed" + list +
         (listed > kFailedListed ? "\n- …" : "");
}

// The journal's own newest good backup (SPEC §11).
std::string JournalBackupLine(const journal::Journal& journal) {
  auto newest = fleet::ReadLastJournalBackup(journal);
  if (!newest.ok()) return "Journal backup: unknown (" + newest.status().message() + ")";
  if (!newest->has_value()) return "Journal backup: none taken and verified yet";
  return "Journal backup: last taken and verified " + FormatRfc3339((*newest)->taken_ms()) +
         ", in " + (*newest)->path();
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
  return text + "\n" + JournalBackupLine(journal) + "\n" + OutboxSummary(journal, now_ms);
}

workflows::StartRequest DigestStart(int64_t day) { return ScheduledStart(kDigest, "day", day); }

}  // namespace zlh::controller
