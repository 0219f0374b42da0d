// Restoring a journal backup into a data directory that zlhd starts from (SPEC §11): the backup is
// verified first, then its journal and tokens file are copied in; the directory must be absent or
// empty, so a restore never mixes two journals or overwrites a live one.
//
// Thread-safety: a blocking call over the file system (zlh-journal restore).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "backup/layout.h"
#include "base/status.h"

namespace zlh::backup {

struct Restored {
  std::optional<Marker> marker;  // the backup's marker (none for a bare copy of a data directory)
  uint64_t journal_files = 0;
  uint64_t journal_bytes = 0;
  bool tokens = false;  // the tokens file was restored (mode 0600)
};

// Copies the backup `backup` (a directory holding `journal/` and, usually, `tokens`) into `data`.
// Refused, with nothing changed: kFailedPrecondition when `data` exists and is not an empty
// directory; kNotFound when `backup` holds no journal; kCorruption when it fails backup::Verify.
// Otherwise the tokens file is copied first and the journal last, each under a temporary name
// renamed into place once fsynced, so a `data` holding `journal/` holds a whole restore; a
// failure part way (kIOError naming the file) removes what it wrote.
Result<Restored> Restore(const std::string& backup, const std::string& data);

}  // namespace zlh::backup
