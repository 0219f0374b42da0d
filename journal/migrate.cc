#include "journal/migrate.h"

#include "journal/format.h"
#include "proto/records.pb.h"

namespace zlh::journal {

const FormatPlan& BuildFormat() {
  // Format 1 is the first; a release that changes the layout bumps kFormatVersion and adds here
  // the step from the previous format (and a fixture test of it, journal/migrate_test.cc).
  static const FormatPlan plan{kFormatVersion, 1, {}};
  return plan;
}

FormatPlan TestNextFormat() {
  FormatPlan plan = BuildFormat();
  plan.version = kFormatVersion + 1;
  plan.migrations.push_back(Migration{
      kFormatVersion, "format " + std::to_string(kFormatVersion + 1) +
                          " (tests only): every workflow summary decoded and written back",
      [](Txn& txn) -> Status {
        std::vector<std::pair<std::string, std::string>> rewritten;
        Status bad;
        Status s = txn.Scan(Cf::kSummaries, "", [&](std::string_view id, std::string_view value) {
          proto::WorkflowSummary summary;
          if (!summary.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
            bad = Corruption("the summary of " + std::string(id) + " cannot be decoded");
            return false;
          }
          rewritten.emplace_back(std::string(id), summary.SerializeAsString());
          return true;
        });
        if (!s.ok()) return s;
        if (!bad.ok()) return bad;
        for (const auto& [id, value] : rewritten) txn.Put(Cf::kSummaries, id, value);
        return Status::Ok();
      }});
  return plan;
}

}  // namespace zlh::journal
