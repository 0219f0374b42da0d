// Keeping the newest scheduled journal backups (SPEC §11) and removing the older ones. Only
// backups the schedule made are touched: a directory of the backup root named like one
// (layout.h's ScheduledName) whose marker says the schedule took it. Everything else there — the
// operator's own files, backups taken through the API or zlh-journal — is never removed.
//
// Thread-safety: blocking calls over the file system; zlhd runs them off its event loop.
#pragma once

#include <string>
#include <vector>

#include "backup/layout.h"
#include "base/status.h"

namespace zlh::backup {

struct Scheduled {
  std::string name;  // "20261127T033000Z"
  Marker marker;
};

// The scheduled backups under `root`, oldest first (none when `root` does not exist).
Result<std::vector<Scheduled>> ListScheduled(const std::string& root);

// Removes the scheduled backups under `root` beyond the newest `keep` verified ones: the older
// verified ones, and those that are not complete or verified (cut short, failed) older than the
// oldest one kept. Nothing is removed while fewer than `keep` are verified. Returns the paths
// removed, oldest first. kIOError naming the directory when one cannot be removed (those before
// it are removed already).
Result<std::vector<std::string>> Prune(const std::string& root, uint32_t keep);

}  // namespace zlh::backup
