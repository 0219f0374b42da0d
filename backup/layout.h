// A journal backup on disk (SPEC §11) — not the game servers' Proxmox backups. A backup is a data
// directory of its own: `journal/` (a RocksDB checkpoint, which opens as a journal), `tokens` (the
// API's secrets, mode 0600) and `zlh-backup.json`, the marker that says who took it, when, and
// whether it was verified. The marker is written first and rewritten last, so a backup cut short
// is still recognised as one (and never taken for a finished one). Scheduled backups are named by
// the UTC time they were taken, "20261127T033000Z", so that names sort as times do.
//
// Thread-safety: free functions over the file system; no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace zlh::backup {

inline constexpr char kJournalDir[] = "journal";
inline constexpr char kTokensFile[] = "tokens";
inline constexpr char kMarkerFile[] = "zlh-backup.json";

// Who took a backup: the daily schedule (the only ones pruned), POST /api/admin/backup, or
// `zlh-journal backup` with no daemon.
enum class Origin { kScheduled, kApi, kTool };
std::string_view OriginName(Origin origin);

struct Marker {
  Origin origin = Origin::kScheduled;
  int64_t taken_ms = 0;
  bool complete = false;  // every file written (false: being taken, cut short, or failed)
  bool tokens = false;    // the tokens file is in it
  bool verified = false;  // opened read-only and verified clean after it was written
};

// The marker of the backup in `dir`; nullopt when `dir` holds none or one that is not ours.
std::optional<Marker> ReadMarker(const std::string& dir);
// Writes `marker` into `dir` durably (a temporary file fsynced, renamed over it, `dir` fsynced).
Status WriteMarker(const std::string& dir, const Marker& marker);

// "20261127T033000Z": the name of a scheduled backup taken at `unix_ms` (UTC, to the second).
std::string ScheduledName(int64_t unix_ms);
// Whether `name` is such a name (8 digits, T, 6 digits, Z).
bool IsScheduledName(std::string_view name);

// Copies the regular file `from` to `to` (which must not exist) with permissions `mode`, fsyncs
// it. kIOError naming the file otherwise.
Status CopyFileDurably(const std::string& from, const std::string& to, unsigned mode);
// fsyncs the directory `dir` (so that the names created in it survive a crash).
Status SyncDir(const std::string& dir);
// The directory that holds `path` ("a/b/" and "a/b" are both in "a"; a bare name is in ".").
std::string ParentDir(const std::string& path);

}  // namespace zlh::backup
