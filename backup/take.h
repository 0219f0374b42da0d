// Taking and verifying one journal backup (SPEC §11; the layout is backup/layout.h): a checkpoint
// of the running journal, the tokens file beside it, and — when asked — the copy opened read-only
// and run through everything `zlh-journal verify` checks (flows/verify_journal.h).
//
// Thread-safety: blocking calls (a checkpoint of a large journal and its verification take
// seconds); zlhd runs them off its event loop (backup/keeper.h). Take is safe while the journal is
// being written.
#pragma once

#include <string>

#include "backup/layout.h"
#include "base/status.h"
#include "journal/journal.h"

namespace zlh::backup {

struct Taken {
  std::string path;
  Marker marker;
};

struct TakeRequest {
  std::string target;       // the backup's directory: new, its parent existing
  std::string tokens_file;  // copied in as `tokens` (mode 0600); "" when there is none
  Origin origin = Origin::kScheduled;
  bool verify = true;
  int64_t now_ms = 0;  // when it is taken (0: now)
};

// Writes the backup `req` asks for into req.target. A target that holds a backup of the same
// origin that is not complete (cut short by a crash, or failed) is taken again from scratch; one
// that holds a complete backup of that origin is returned as it is (a take repeated after a
// crash). Errors: kAlreadyExists when the target holds anything else; kIOError (or the
// checkpoint's error) when it cannot be written — the directory is removed again then;
// kCorruption when the copy fails verification (the directory stays, its marker saying it is not
// complete, for a person to look at). Every file is fsynced before it returns.
Result<Taken> Take(const journal::Journal& journal, const TakeRequest& req);

// Verifies the backup (or data directory) `dir`: its journal opens read-only and passes every
// check of `zlh-journal verify`, and a tokens file, when there is one, is readable. kNotFound when
// `dir` holds no journal; kCorruption naming the damage or the violations (up to three) otherwise.
// `format`: the journal format to read it with (journal::Options::format; null: this build's).
Status Verify(const std::string& dir, const journal::FormatPlan* format = nullptr);

}  // namespace zlh::backup
