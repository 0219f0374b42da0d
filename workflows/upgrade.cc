#include "workflows/upgrade.h"

#include "workflows/replay.h"

namespace zlh::workflows {

Result<UpgradeReport> CheckUpgrade(const Registry& registry, const journal::Journal& journal) {
  auto ids = journal.IdsWithStatus({proto::QUEUED, proto::RUNNING, proto::WAITING, proto::FAILED});
  if (!ids.ok()) return ids.status();
  UpgradeReport report;
  for (const std::string& id : *ids) {
    auto summary = journal.ReadSummary(id);
    if (!summary.ok()) return summary.status();
    if (!summary->has_value()) continue;  // deleted since the index was read (a live journal)
    UpgradeBlocker blocker{id, (*summary)->type(), (*summary)->status(), ""};
    auto replayed = Replay(registry, journal, id);
    if (!replayed.ok() && replayed.status().code() == Code::kNotFound) continue;  // deleted since
    ++report.checked;
    if (!replayed.ok()) {
      if (replayed.status().code() != Code::kFailedPrecondition) return replayed.status();
      blocker.reason = replayed.status().message();  // the type is not registered
    } else if (!replayed->matches) {
      blocker.reason = replayed->divergence;
    } else {
      continue;
    }
    report.blocked.push_back(std::move(blocker));
  }
  return report;
}

}  // namespace zlh::workflows
