#include "workflows/lookup.h"

#include "journal/format.h"

namespace zlh::workflows {

Result<std::optional<proto::WorkflowSummary>> SummaryByDedupKey(journal::Txn& txn,
                                                                std::string_view dedup_key) {
  auto id = txn.Get(journal::Cf::kIndex, journal::DedupIndexKey(dedup_key));
  if (!id.ok()) return id.status();
  if (!id->has_value()) return std::optional<proto::WorkflowSummary>();
  auto raw = txn.Get(journal::Cf::kSummaries, **id);
  if (!raw.ok()) return raw.status();
  proto::WorkflowSummary summary;
  if (!raw->has_value() || !summary.ParseFromString(**raw)) {
    return Status(Code::kCorruption, "workflow " + **id + " (dedup key index) has no readable summary");
  }
  return std::optional<proto::WorkflowSummary>(std::move(summary));
}

}  // namespace zlh::workflows
