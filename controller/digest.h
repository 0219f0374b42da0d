// The daily digest (SPEC §5.5, §10): a health summary to #system-health — servers by status,
// repairs and failed workflows of the last 24 hours, queue depths, backups, and what became of the
// day's notifications (shown over a minute late, refused, still waiting, emailed) — gathered from
// the journal in one recorded step and recorded in the outbox in another, so a crash neither loses
// nor repeats it.
//
// Thread-safety: DigestText reads the journal from any thread; the workflow runs on the engine's.
#pragma once

#include <string>

#include "journal/journal.h"
#include "workflows/engine.h"

namespace zlh::controller {

inline constexpr char kDigest[] = "digest";

// The digest's text as of `now_ms`.
std::string DigestText(const journal::Journal& journal, int64_t now_ms);

// The start of the digest of local day `day` (days since 1970-01-01): dedup key per day.
workflows::StartRequest DigestStart(int64_t day);

}  // namespace zlh::controller
