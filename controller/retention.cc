#include "controller/retention.h"

#include <vector>

#include "base/ids.h"
#include "journal/format.h"
#include "proto/records.pb.h"

namespace zlh::controller {

Result<size_t> DeleteExpired(journal::Txn& t, const std::set<std::string>& types, TimeMs cutoff,
                             size_t limit) {
  const std::string before = FirstIdAt(cutoff);  // ids sort by creation time
  size_t deleted = 0;
  for (int status : {proto::COMPLETED, proto::FAILED, proto::CANCELLED}) {
    std::string prefix = journal::StatusIndexPrefix(status);
    std::vector<std::string> ids;
    ZLH_RETURN_IF_ERROR(t.Scan(journal::Cf::kIndex, prefix, [&](std::string_view k, std::string_view) {
      std::string id(k.substr(prefix.size()));
      if (id >= before) return false;  // every later one is younger
      ids.push_back(std::move(id));
      return true;
    }));
    for (const std::string& id : ids) {
      if (deleted >= limit) return deleted;
      auto raw = t.Get(journal::Cf::kSummaries, id);
      if (!raw.ok()) return raw.status();
      proto::WorkflowSummary s;
      if (!raw->has_value() || !s.ParseFromString(**raw) || !types.count(s.type())) continue;
      std::vector<std::string> events;
      ZLH_RETURN_IF_ERROR(t.Scan(journal::Cf::kEvents, journal::EventPrefix(id),
                                 [&](std::string_view k, std::string_view) {
                                   events.emplace_back(k);
                                   return true;
                                 }));
      for (const auto& k : events) t.Delete(journal::Cf::kEvents, k);
      t.Delete(journal::Cf::kSummaries, id);
      t.Delete(journal::Cf::kIndex, journal::StatusIndexKey(status, id));
      if (!s.dedup_key().empty()) t.Delete(journal::Cf::kIndex, journal::DedupIndexKey(s.dedup_key()));
      ++deleted;
    }
  }
  return deleted;
}

}  // namespace zlh::controller
