#include "flows/verify_journal.h"

#include "fleet/verify.h"
#include "flows/fold.h"

namespace zlh::flows {

Result<std::vector<workflows::Violation>> VerifyJournal(journal::Journal& journal) {
  // The files first: the invariants below read only what the database hands back, and a read-only
  // open does not notice a table file that is gone until a read needs it.
  ZLH_RETURN_IF_ERROR(journal.VerifyFiles());
  std::vector<workflows::Violation> all;
  for (auto check : {&workflows::Verify, &fleet::VerifyDomain, &flows::VerifyFold}) {
    auto found = check(journal);
    if (!found.ok()) return found.status();
    all.insert(all.end(), found->begin(), found->end());
  }
  return all;
}

}  // namespace zlh::flows
