#include "backup/prune.h"

#include <algorithm>
#include <filesystem>

namespace zlh::backup {
namespace {

namespace fs = std::filesystem;

bool Good(const Marker& m) { return m.complete && m.verified; }

}  // namespace

Result<std::vector<Scheduled>> ListScheduled(const std::string& root) {
  std::vector<Scheduled> out;
  std::error_code ec;
  if (!fs::exists(root, ec)) return out;
  fs::directory_iterator it(root, ec);
  if (ec) return Status(Code::kIOError, "cannot list " + root + ": " + ec.message());
  for (const fs::directory_entry& entry : it) {
    std::string name = entry.path().filename().string();
    // A symlink is never ours, even when it leads to a backup.
    if (!IsScheduledName(name) || !entry.is_directory(ec) || entry.is_symlink(ec)) continue;
    std::optional<Marker> marker = ReadMarker(entry.path().string());
    if (!marker || marker->origin != Origin::kScheduled) continue;
    out.push_back({name, *marker});
  }
  std::sort(out.begin(), out.end(),
            [](const Scheduled& a, const Scheduled& b) { return a.name < b.name; });
  return out;
}

Result<std::vector<std::string>> Prune(const std::string& root, uint32_t keep) {
  auto listed = ListScheduled(root);
  if (!listed.ok()) return listed.status();
  std::vector<std::string> removed;
  uint32_t good = 0;
  std::string oldest_kept;  // the name of the oldest verified backup kept
  for (auto it = listed->rbegin(); it != listed->rend() && good < keep; ++it) {
    if (Good(it->marker)) {
      ++good;
      oldest_kept = it->name;
    }
  }
  if (good < keep) return removed;
  for (const Scheduled& s : *listed) {
    if (s.name >= oldest_kept) break;
    std::string path = root + "/" + s.name;
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) return Status(Code::kIOError, "cannot remove " + path + ": " + ec.message());
    removed.push_back(path);
  }
  return removed;
}

}  // namespace zlh::backup
