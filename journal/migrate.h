// Journal format changes (SPEC §11): a build reads one format, kFormatVersion; a journal of an older
// one is migrated at open, step by step, only when the opener asks (zlhd --migrate), and refused
// otherwise (OpenError::kOlderFormat), so that no build silently rewrites an operator's journal.
//
// Each step (format N → N+1) is one synced atomic write that also moves the format marker: a crash
// or a failed step leaves the journal whole at the last format reached, and migrating again goes on
// from there.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "journal/format.h"
#include "journal/journal.h"

namespace zlh::journal {

// One step: rewrites a journal of format `from` into format `from + 1`. `apply` reads and writes
// through `txn` (its writes and the new marker are committed together); a non-OK return leaves the
// journal at `from`.
struct Migration {
  uint32_t from = 0;
  std::string what;  // one line for the operator: "format 2: the timer index keyed by ..."
  std::function<Status(Txn& txn)> apply;
};

// The format a build reads and the steps that bring older journals to it, oldest first, one per
// format from `oldest` to `version - 1`.
struct FormatPlan {
  uint32_t version = kFormatVersion;
  uint32_t oldest = kFormatVersion;  // older journals than this cannot be migrated
  std::vector<Migration> migrations;
};

// This build's plan: kFormatVersion with every migration the releases since format 1 needed.
const FormatPlan& BuildFormat();

// Tests only: a format one newer than this build's, reached by a step that rewrites every workflow
// summary unchanged (so that the whole migration path runs over a real journal). zlhd uses it when
// ZLHD_TEST_NEXT_FORMAT=1 (tools/zlhd_test_hooks.h).
FormatPlan TestNextFormat();

}  // namespace zlh::journal
