#include "backup/restore.h"

#include <sys/stat.h>

#include <filesystem>

#include "backup/take.h"

namespace zlh::backup {
namespace {

namespace fs = std::filesystem;

Status CheckTarget(const std::string& data) {
  std::error_code ec;
  fs::file_status st = fs::symlink_status(data, ec);
  if (!fs::exists(st)) return Status::Ok();
  if (!fs::is_directory(st)) {
    return FailedPrecondition(
        data + " exists and is not a directory: restore needs an absent or empty one");
  }
  if (!fs::is_empty(data, ec) || ec) {
    return FailedPrecondition(data +
                              " is not empty: restore writes only into an absent or empty "
                              "directory (move the old one aside first)");
  }
  return Status::Ok();
}

// Copies the regular files of `from` into the new directory `to`, fsynced; counts them.
Status CopyJournal(const std::string& from, const std::string& to, Restored& out) {
  std::error_code ec;
  fs::create_directory(to, ec);
  if (ec) return Status(Code::kIOError, "cannot create " + to + ": " + ec.message());
  fs::directory_iterator it(from, ec);
  if (ec) return Status(Code::kIOError, "cannot list " + from + ": " + ec.message());
  for (const fs::directory_entry& entry : it) {
    if (!entry.is_regular_file(ec)) continue;
    std::string name = entry.path().filename().string();
    if (name == "LOCK") continue;  // RocksDB's lock file: the restored journal makes its own
    ZLH_RETURN_IF_ERROR(CopyFileDurably(entry.path().string(), to + "/" + name, 0600));
    ++out.journal_files;
    out.journal_bytes += entry.file_size(ec);
  }
  return SyncDir(to);
}

// Writes the restore into `data` (existing and empty).
Status CopyIn(const std::string& backup, const std::string& data, Restored& out) {
  std::error_code ec;
  std::string tokens = backup + "/" + kTokensFile;
  if (fs::exists(tokens, ec)) {
    ZLH_RETURN_IF_ERROR(CopyFileDurably(tokens, data + "/tokens.restoring", 0600));
    fs::rename(data + "/tokens.restoring", data + "/" + kTokensFile, ec);
    if (ec) return Status(Code::kIOError, "cannot rename the tokens file: " + ec.message());
    out.tokens = true;
  }
  std::string staging = data + "/journal.restoring";
  ZLH_RETURN_IF_ERROR(CopyJournal(backup + "/" + kJournalDir, staging, out));
  fs::rename(staging, data + "/" + kJournalDir, ec);
  if (ec) return Status(Code::kIOError, "cannot rename " + staging + ": " + ec.message());
  return SyncDir(data);
}

}  // namespace

Result<Restored> Restore(const std::string& backup, const std::string& data) {
  ZLH_RETURN_IF_ERROR(CheckTarget(data));
  ZLH_RETURN_IF_ERROR(Verify(backup));
  Restored out;
  out.marker = ReadMarker(backup);
  std::error_code ec;
  bool created = !fs::exists(data, ec);
  if (created) {
    fs::create_directories(data, ec);
    if (ec) return Status(Code::kIOError, "cannot create " + data + ": " + ec.message());
    fs::permissions(data, fs::perms::owner_all, ec);  // a data directory is the daemon's alone
  }
  if (Status s = CopyIn(backup, data, out); !s.ok()) {
    // Back to how it was: absent, or empty.
    if (created) {
      fs::remove_all(data, ec);
    } else {
      for (const char* name : {"tokens.restoring", kTokensFile, "journal.restoring", kJournalDir}) {
        fs::remove_all(data + "/" + name, ec);
      }
    }
    return s;
  }
  if (created) ZLH_RETURN_IF_ERROR(SyncDir(ParentDir(data)));
  return out;
}

}  // namespace zlh::backup
