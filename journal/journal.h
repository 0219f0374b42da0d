// The journal: zlh-flow's RocksDB database of event streams, workflow summaries, indexes and
// domain tables — the only code that touches RocksDB.
//
// Writes go through one writer thread that folds every queued append into one synced WriteBatch
// (group commit) and then calls each append's callback. An append is atomic: its events, index
// changes and domain-table changes are all written or none are. When a write or sync fails the
// journal fail-stops: that append and every later one fail with kUnavailable until the process
// reopens the journal, because the state of the log on disk is no longer known.
//
// Thread-safety: every method may be called from any thread. Callbacks run on the writer thread and
// must not block; they may call Append. An exception thrown by a callback is caught and dropped,
// and one thrown by a transaction function fails that append with kInternal: neither stops the
// writer.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/histogram.h"
#include "base/status.h"
#include "proto/events.pb.h"
#include "proto/records.pb.h"

namespace rocksdb {
class FileSystem;
}

namespace zlh::journal {

struct FormatPlan;  // journal/migrate.h

enum class Cf { kEvents, kSummaries, kIndex, kDomain };

// Changes to apply in one atomic write. Cheap to move; not thread-safe.
class Batch {
 public:
  struct Op {
    Cf cf;
    bool is_delete;
    std::string key;
    std::string value;
  };

  void Put(Cf cf, std::string key, std::string value);
  void Delete(Cf cf, std::string key);
  // Appends `event` (its seq set) to `stream`'s events.
  void PutEvent(std::string_view stream, const proto::Event& event);
  void PutSummary(const proto::WorkflowSummary& summary);

  bool empty() const { return ops_.empty(); }
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

// What a transaction function sees on the writer thread: reads return the committed database plus
// every change made earlier in the same group (so transactions are serialized); writes join the
// append's atomic write.
class Txn {
 public:
  virtual ~Txn() = default;
  // The value at `key`, nullopt when absent.
  virtual Result<std::optional<std::string>> Get(Cf cf, std::string_view key) = 0;
  // Calls visit(key, value) for every key starting with `prefix`, in key order, until it returns
  // false.
  virtual Status Scan(Cf cf, std::string_view prefix,
                      const std::function<bool(std::string_view, std::string_view)>& visit) = 0;
  virtual void Put(Cf cf, std::string_view key, std::string_view value) = 0;
  virtual void Delete(Cf cf, std::string_view key) = 0;
  // Marks the current point; RollbackToSavePoint undoes every Put/Delete made since the matching
  // mark (marks nest). PopSavePoint drops the newest mark and keeps the changes.
  virtual void SetSavePoint() = 0;
  virtual void RollbackToSavePoint() = 0;
  virtual void PopSavePoint() = 0;
};

// Runs on the writer thread inside a group; must be quick and must not block. A non-OK return (or
// an exception: kInternal) discards every change of its append (the rest of the group is
// unaffected) and is the append's result.
using TxnFn = std::function<Status(Txn&)>;

struct Options {
  // Create an empty journal when `dir` holds none; otherwise Open fails with kNotFound.
  bool create_if_missing = true;
  // Open for reading only, beside a process that may hold the journal for writing (a RocksDB
  // secondary instance: it sees the journal as of the open, and of each CatchUp). Appends fail
  // with kFailedPrecondition; nothing is created; open_count is not incremented.
  bool read_only = false;
  // Test hook: called by the writer before each group's write with the number of appends in it; a
  // non-OK return is treated as the write's failure (and fail-stops the journal).
  std::function<Status(size_t appends)> fault_before_write;
  // Test hook: the file system RocksDB reads and writes the journal through, such as PowerCutFs
  // (journal/power_cut_fs.h), which simulates losing power; null (production): the real one.
  // Creating a new journal also goes through it.
  std::shared_ptr<rocksdb::FileSystem> file_system;
  // Migrate a journal of an older format to this build's (journal/migrate.h) instead of refusing it
  // with kOlderFormat. Writable opens only.
  bool migrate = false;
  // The format this build reads and its migrations; null (production): BuildFormat(). Tests point
  // it at a plan of their own, which must outlive the open.
  const FormatPlan* format = nullptr;
};

struct WriterStats {
  uint64_t groups = 0;   // synced writes
  uint64_t appends = 0;  // appends committed in them
  Histogram commit_seconds;                                        // each synced write
  Histogram group_appends{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}};  // appends per write
};

// Reads the last key under many prefixes of one column family with one RocksDB iterator (a Scan
// per prefix would build an iterator each time). Not thread-safe; must not outlive its journal.
class Cursor {
 public:
  virtual ~Cursor() = default;
  // Positions at the last key starting with `prefix`; false when there is none (or on an error).
  virtual bool SeekLast(std::string_view prefix) = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
};

// Why a journal could not be opened: what an operator is told to do about it differs.
enum class OpenError {
  kNone,
  kNoJournal,         // none in the directory, and creating one was not asked for (kNotFound)
  kHeld,              // another process holds it for writing (kFailedPrecondition)
  kNewerFormat,       // written by a newer zlh-flow (kFailedPrecondition)
  kOlderFormat,       // written by an older zlh-flow, not migrated: not asked to, or a step of
                      // the migration failed (kFailedPrecondition)
  kCorrupt,           // not a zlh-flow journal, a garbage format marker, or damaged or missing
                      // files (kCorruption)
  kPermissionDenied,  // this user may not read or write its directory or files (kIOError)
  kNoSpace,           // the disk is full (kUnavailable)
  kIOError,           // any other error of the operating system or storage (kIOError)
};
// "held by another process", "disk full"...
std::string_view OpenErrorName(OpenError error);
// What an operator can do about it, one sentence ("" for kNone).
std::string_view OpenErrorHint(OpenError error);

class Journal {
 public:
  // Opens (or creates) the journal in `dir`; on failure, the status says why in the code shown
  // beside each OpenError (TryOpen gives the OpenError itself). Every successful writable open
  // increments open_count durably.
  static Result<std::unique_ptr<Journal>> Open(const std::string& dir, Options options = {});
  // Open, for callers that tell the kinds of failure apart: `journal` is null exactly when `error`
  // is not kNone, and `status` then says what happened.
  struct Opened {
    std::unique_ptr<Journal> journal;
    OpenError error = OpenError::kNone;
    Status status;
    // Options::migrate: what each step applied said, oldest first (empty when none was needed).
    std::vector<std::string> migrated;
  };
  static Opened TryOpen(const std::string& dir, Options options = {});

  // Commits every append already queued, then stops the writer and closes the database.
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  using Callback = std::function<void(Status)>;
  // Queues `batch` and, when non-null, `txn` (run after the batch's changes are staged) for the
  // next group commit. `done` runs on the writer thread once the write is durable (fsynced: it
  // survives a crash of the process or the machine) or has failed.
  void Append(Batch batch, TxnFn txn, Callback done);
  // Append and wait for the result.
  Status AppendSync(Batch batch, TxnFn txn = nullptr);

  // After a group's callbacks have run, the writer calls `barrier(resume)` and takes the next group
  // only once `resume` has been called (or after 2 ms). An event loop whose callbacks resume work
  // passes a barrier that posts `resume` behind them: the appends that work makes then join the
  // next group whole, instead of being split over two. nullptr: no waiting. Once this returns, the
  // previous barrier is not called again.
  using GroupBarrier = std::function<void(std::function<void()> resume)>;
  void SetGroupBarrier(GroupBarrier barrier);

  Result<std::optional<std::string>> Get(Cf cf, std::string_view key) const;
  enum class Direction { kForward, kBackward };
  // Calls visit(key, value) for keys starting with `prefix` in key order (or reverse order) until
  // it returns false.
  Status Scan(Cf cf, std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& visit,
              Direction direction = Direction::kForward) const;
  // Paging backwards: calls visit(key, value) for keys starting with `prefix` that sort before
  // `before` (all of them when `before` is empty), in reverse key order, until it returns false.
  Status ScanBefore(Cf cf, std::string_view prefix, std::string_view before,
                    const std::function<bool(std::string_view, std::string_view)>& visit) const;
  std::unique_ptr<Cursor> NewCursor(Cf cf) const;

  // Following the journal as it is written (zlh-journal tail). Positions are RocksDB sequence
  // numbers: LatestPosition() is the newest committed write's; Follow calls visit(stream, event)
  // for every event committed after *position (in commit order; call CatchUp first on a read-only
  // journal) and advances *position. The write-ahead log keeps the last ~10 minutes (at most
  // 256 MB); kNotFound when *position is older than that.
  uint64_t LatestPosition() const;
  Status Follow(uint64_t* position,
                const std::function<void(std::string_view stream, const proto::Event&)>& visit) const;
  // A read-only journal: catches up with what the writing process has committed since. A no-op
  // for a writable journal.
  Status CatchUp();
  // Every event of `stream`, in seq order.
  Result<std::vector<proto::Event>> ReadEvents(std::string_view stream) const;
  Result<std::optional<proto::WorkflowSummary>> ReadSummary(std::string_view id) const;
  // The ids of the workflows whose status is one of `statuses`, from the status index: per status,
  // in id (creation) order.
  Result<std::vector<std::string>> IdsWithStatus(std::initializer_list<int> statuses) const;

  // Writes a consistent copy of the journal into `dir` (which must not exist): a RocksDB
  // checkpoint, hard-linked where it can be. The copy opens as a journal of its own (a standby, a
  // restore). Safe while appends go on: it holds what was committed when it was taken.
  // kAlreadyExists when `dir` exists; kFailedPrecondition on a read-only journal.
  Status Checkpoint(const std::string& dir) const;

  // Checks the journal's files beyond what opening it reads (a read-only open does not notice a
  // missing table file until a read needs it): every table file the MANIFEST lists is there at its
  // recorded size, and every block of every table matches its checksum. kCorruption naming the
  // first damage found. On a read-only journal it checks the files as they are now, on a second
  // read-only instance, trying again before reporting damage (beside a writer, a file may be
  // compacted away while it is being checked).
  Status VerifyFiles();

  // How many times this journal has been opened for writing, this open included.
  uint64_t open_count() const;
  // The format plan it was opened with (Options::format): null for this build's.
  const FormatPlan* format_plan() const;
  // OK, or the write error that fail-stopped the journal.
  Status health() const;
  WriterStats writer_stats() const;
  const std::string& dir() const;

  struct Impl;  // opaque; public only so journal.cc's helpers can name it

 private:
  explicit Journal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace zlh::journal
