#include "backup/take.h"

#include <unistd.h>

#include <filesystem>

#include "base/clock.h"
#include "flows/verify_journal.h"

namespace zlh::backup {
namespace {

namespace fs = std::filesystem;

// Makes `target` ready to be written: absent (created), or an incomplete backup of `origin`
// (emptied and created again). A complete backup of `origin` there is returned as it is.
Result<std::optional<Taken>> Prepare(const std::string& target, Origin origin) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(target, ec))) {
    std::optional<Marker> marker = ReadMarker(target);
    if (!marker || marker->origin != origin || fs::is_symlink(fs::symlink_status(target, ec))) {
      return Status(Code::kAlreadyExists, target + " exists already");
    }
    if (marker->complete) return std::optional<Taken>(Taken{target, *marker});
    fs::remove_all(target, ec);
    if (ec) return Status(Code::kIOError, "cannot remove " + target + ": " + ec.message());
  }
  fs::create_directory(target, ec);
  if (ec) return Status(Code::kIOError, "cannot create " + target + ": " + ec.message());
  return std::optional<Taken>();
}

// The checkpoint and the tokens file into `target`, whose marker says it is being taken.
Status Write(const journal::Journal& journal, const TakeRequest& req, Marker& marker) {
  ZLH_RETURN_IF_ERROR(WriteMarker(req.target, marker));
  ZLH_RETURN_IF_ERROR(journal.Checkpoint(req.target + "/" + kJournalDir));
  if (!req.tokens_file.empty()) {
    ZLH_RETURN_IF_ERROR(CopyFileDurably(req.tokens_file, req.target + "/" + kTokensFile, 0600));
    marker.tokens = true;
  }
  return SyncDir(req.target);
}

}  // namespace

Result<Taken> Take(const journal::Journal& journal, const TakeRequest& req) {
  auto prepared = Prepare(req.target, req.origin);
  if (!prepared.ok()) return prepared.status();
  if (prepared->has_value()) return **prepared;
  Marker marker{req.origin, req.now_ms ? req.now_ms : NowMs()};
  if (Status s = Write(journal, req, marker); !s.ok()) {
    std::error_code ec;
    fs::remove_all(req.target, ec);
    return s;
  }
  if (req.verify) {
    if (Status s = Verify(req.target, journal.format_plan()); !s.ok()) {
      return Status(Code::kCorruption,
                    "the backup " + req.target + " failed verification: " + s.message());
    }
    marker.verified = true;
  }
  marker.complete = true;
  ZLH_RETURN_IF_ERROR(WriteMarker(req.target, marker));
  ZLH_RETURN_IF_ERROR(SyncDir(ParentDir(req.target)));
  return Taken{req.target, marker};
}

Status Verify(const std::string& dir, const journal::FormatPlan* format) {
  journal::Options options;
  options.format = format;
  options.read_only = true;
  options.create_if_missing = false;
  journal::Journal::Opened opened = journal::Journal::TryOpen(dir + "/" + kJournalDir, options);
  if (opened.error == journal::OpenError::kNoJournal) {
    return NotFound(dir + " holds no journal (" + dir + "/" + kJournalDir + ")");
  }
  if (!opened.journal) {
    return Status(Code::kCorruption, "the journal cannot be opened (" +
                                         std::string(journal::OpenErrorName(opened.error)) +
                                         "): " + opened.status.message());
  }
  auto violations = flows::VerifyJournal(*opened.journal);
  if (!violations.ok()) return Status(Code::kCorruption, violations.status().message());
  if (!violations->empty()) {
    std::string what =
        std::to_string(violations->size()) + " violation(s) of the journal's invariants";
    for (size_t i = 0; i < violations->size() && i < 3; ++i) {
      what += "; " + (*violations)[i].subject + ": " + (*violations)[i].what;
    }
    return Status(Code::kCorruption, what);
  }
  std::string tokens = dir + "/" + kTokensFile;
  std::error_code ec;
  if (fs::exists(tokens, ec) && ::access(tokens.c_str(), R_OK) != 0) {
    return Status(Code::kCorruption, tokens + " cannot be read");
  }
  return Status::Ok();
}

}  // namespace zlh::backup
