#include "journal/journal.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/write_batch_with_index.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "journal/format.h"
#include "journal/migrate.h"

namespace zlh::journal {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCfNames[] = {kEventsCf, kSummariesCf, kIndexCf, kDomainCf};

// How long the writer waits at most for the group barrier (a stopped event loop never answers).
constexpr auto kBarrierTimeout = std::chrono::milliseconds(2);

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string m = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return Corruption(std::move(m));
  if (s.IsNotFound()) return NotFound(std::move(m));
  return IOError(std::move(m));
}

// The part of a key whose inserts land next to each other in the memtable: an event stream (the
// stream id and its separator: seqs only grow) or a whole key (a summary rewritten at every step).
// RocksDB keeps an insert hint per such prefix, which turns the memtable insert of the synced
// path from a skiplist search into a short step from the last one.
class InsertHintPrefix final : public rocksdb::SliceTransform {
 public:
  explicit InsertHintPrefix(bool whole_key) : whole_key_(whole_key) {}
  const char* Name() const override { return whole_key_ ? "zlh.WholeKey" : "zlh.StreamPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    if (whole_key_) return key;
    const void* zero = std::memchr(key.data(), 0, key.size());
    return {key.data(), static_cast<size_t>(static_cast<const char*>(zero) - key.data()) + 1};
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return whole_key_ || std::memchr(key.data(), 0, key.size()) != nullptr;
  }

 private:
  bool whole_key_;
};

rocksdb::ColumnFamilyOptions CfOptions(std::string_view name = "") {
  rocksdb::ColumnFamilyOptions o;
  // Modest memtables: what is not flushed is replayed from the WAL at every open (zlhd's start,
  // every zlh-journal run), so their size bounds start-up time and a reader's memory.
  o.write_buffer_size = 32 << 20;
  o.max_write_buffer_number = 3;
  o.level_compaction_dynamic_level_bytes = true;
  if (name == kEventsCf) {
    o.memtable_insert_with_hint_prefix_extractor = std::make_shared<InsertHintPrefix>(false);
  } else if (name == kSummariesCf) {
    o.memtable_insert_with_hint_prefix_extractor = std::make_shared<InsertHintPrefix>(true);
  }
  return o;
}

// RocksDB's own diagnostics (warnings and errors) go to the process's log, in its format (text,
// JSON, journald), instead of a LOG file in the journal: RocksDB's file logger asserts when a write
// to LOG fails, as on a full disk, and Debian's librocksdb keeps its assertions, so a full disk
// aborted the process where a clean "disk full" refusal is wanted.
class ProcessLogger final : public rocksdb::Logger {
 public:
  explicit ProcessLogger(rocksdb::InfoLogLevel level) : Logger(level) {}
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char line[1024];
    std::vsnprintf(line, sizeof line, format, ap);
    spdlog::log(level >= rocksdb::InfoLogLevel::ERROR_LEVEL  ? spdlog::level::err
                : level == rocksdb::InfoLogLevel::WARN_LEVEL ? spdlog::level::warn
                                                             : spdlog::level::info,
                "rocksdb: {}", line);
  }
};

rocksdb::DBOptions DbOptions(rocksdb::Env* env) {
  rocksdb::DBOptions o;
  if (env) o.env = env;
  o.info_log = std::make_shared<ProcessLogger>(rocksdb::InfoLogLevel::WARN_LEVEL);
  o.max_background_jobs = 2;
  o.max_total_wal_size = 128 << 20;  // older WAL files force their column families to flush
  // All column families flush together: an append spans several, and a reader (a secondary
  // instance) that picks up a flush of one without the others would see half of an append.
  o.atomic_flush = true;
  // Flushed WAL files stay archived a while, so that readers can follow the journal (Follow).
  o.WAL_ttl_seconds = 600;
  o.WAL_size_limit_MB = 256;
  // One writer thread: concurrent memtable writes buy nothing, and they disable insert hints.
  o.allow_concurrent_memtable_write = false;
  // Every acknowledged append is synced, so the log can only end in a record torn by the crash
  // itself. A damaged record with whole ones after it means acknowledged appends would be dropped
  // (RocksDB's default, point-in-time recovery, stops there and carries on): refuse to open.
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  return o;
}

struct PendingAppend {
  Batch batch;
  TxnFn txn;
  Journal::Callback done;
  Status result;  // set while the group is built
};

}  // namespace

void Batch::Put(Cf cf, std::string key, std::string value) {
  ops_.push_back(Op{cf, false, std::move(key), std::move(value)});
}

void Batch::Delete(Cf cf, std::string key) {
  ops_.push_back(Op{cf, true, std::move(key), {}});
}

void Batch::PutEvent(std::string_view stream, const proto::Event& event) {
  Put(Cf::kEvents, EventKey(stream, event.seq()), event.SerializeAsString());
}

void Batch::PutSummary(const proto::WorkflowSummary& summary) {
  Put(Cf::kSummaries, summary.id(), summary.SerializeAsString());
}

struct Journal::Impl {
  std::string dir;
  Options options;
  std::unique_ptr<rocksdb::Env> env;  // over options.file_system; null: RocksDB's default
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // index 0: default, then kCfNames order
  uint64_t open_count = 0;
  std::string secondary_dir;  // read-only opens: the secondary instance's own files

  mutable std::mutex mu;
  // The writer waits on `wake` for work (Append notifies it only while writer_idle: a notify is a
  // futex syscall and a context switch, and most appends arrive while the writer syncs or waits
  // for the barrier) and on `barrier_passed` for the group barrier.
  std::condition_variable wake;
  std::condition_variable barrier_passed;
  bool writer_idle = false;  // guarded by mu: the writer waits on `wake` for the queue to fill
  std::deque<PendingAppend> queue;  // guarded by mu
  bool stopping = false;            // guarded by mu
  Status failed;                    // guarded by mu: the error that fail-stopped the journal
  WriterStats stats;                // guarded by mu
  std::mutex barrier_mu;            // held while the barrier is set or called
  GroupBarrier group_barrier;       // guarded by barrier_mu
  std::thread writer;

  rocksdb::ColumnFamilyHandle* Handle(Cf cf) const { return handles[1 + static_cast<size_t>(cf)]; }

  void WriterLoop();
  void CommitGroup(std::deque<PendingAppend>& group);
  void WaitForBarrier();
  ~Impl();
};

namespace {

// Txn over the group's WriteBatchWithIndex: reads see the database plus the group's earlier writes.
class GroupTxn final : public Txn {
 public:
  GroupTxn(const Journal::Impl& impl, rocksdb::WriteBatchWithIndex& wb) : impl_(impl), wb_(wb) {}

  Result<std::optional<std::string>> Get(Cf cf, std::string_view key) override {
    std::string value;
    rocksdb::Status s = wb_.GetFromBatchAndDB(impl_.db.get(), rocksdb::ReadOptions(),
                                              impl_.Handle(cf), key, &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, "journal read");
    return std::optional<std::string>(std::move(value));
  }

  Status Scan(Cf cf, std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& visit) override {
    rocksdb::ReadOptions ro;
    std::unique_ptr<rocksdb::Iterator> base(impl_.db->NewIterator(ro, impl_.Handle(cf)));
    std::unique_ptr<rocksdb::Iterator> it(wb_.NewIteratorWithBase(impl_.Handle(cf), base.release()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (!visit(it->key().ToStringView(), it->value().ToStringView())) break;
    }
    return FromRocks(it->status(), "journal scan");
  }

  void Put(Cf cf, std::string_view key, std::string_view value) override {
    wb_.Put(impl_.Handle(cf), key, value);
  }
  void Delete(Cf cf, std::string_view key) override { wb_.Delete(impl_.Handle(cf), key); }
  void SetSavePoint() override {
    wb_.SetSavePoint();
    ++open_savepoints_;
  }
  void RollbackToSavePoint() override {
    if (wb_.RollbackToSavePoint().ok()) --open_savepoints_;
  }
  void PopSavePoint() override {
    if (wb_.PopSavePoint().ok()) --open_savepoints_;
  }

  // Runs one append's transaction between a save point of its own: its changes stay when it
  // returns OK and are all undone otherwise, whatever save points it left open. A transaction that
  // throws fails with kInternal instead of taking the writer thread (and the process) down.
  Status Run(const TxnFn& fn) {
    wb_.SetSavePoint();
    open_savepoints_ = 0;
    Status result;
    try {
      result = fn(*this);
    } catch (const std::exception& e) {
      result = Internal(std::string("the append's transaction threw: ") + e.what());
    } catch (...) {
      result = Internal("the append's transaction threw a non-standard exception");
    }
    for (; open_savepoints_ > 0; --open_savepoints_) (void)wb_.PopSavePoint();
    if (result.ok()) {
      (void)wb_.PopSavePoint();
    } else {
      (void)wb_.RollbackToSavePoint();
    }
    return result;
  }

 private:
  const Journal::Impl& impl_;
  rocksdb::WriteBatchWithIndex& wb_;
  int open_savepoints_ = 0;  // set by the transaction running now and not yet rolled back or popped
};

// Runs an append's callback; one that throws must not take the writer thread down with it (the
// append itself is committed or failed already: nothing is left to undo).
void RunCallback(const Journal::Callback& done, const Status& status) {
  try {
    done(status);
  } catch (...) {
  }
}

template <typename WriteBatchLike>
void Stage(const Journal::Impl& impl, const Batch& batch, WriteBatchLike& wb) {
  for (const Batch::Op& op : batch.ops()) {
    if (op.is_delete) {
      wb.Delete(impl.Handle(op.cf), op.key);
    } else {
      wb.Put(impl.Handle(op.cf), op.key, op.value);
    }
  }
}

}  // namespace

Journal::Impl::~Impl() {
  {
    std::lock_guard lock(mu);
    stopping = true;
  }
  wake.notify_all();
  barrier_passed.notify_all();
  if (writer.joinable()) writer.join();
  if (db && !options.read_only && failed.ok()) {
    // A clean close leaves nothing to replay: the next open (and every reader's) starts at once.
    rocksdb::FlushOptions flush;
    (void)db->Flush(flush, std::vector<rocksdb::ColumnFamilyHandle*>(handles.begin(), handles.end()));
  }
  if (db) {
    for (auto* h : handles) {
      if (h) (void)db->DestroyColumnFamilyHandle(h);
    }
    (void)db->Close();
    db.reset();
  }
  if (!secondary_dir.empty()) {
    std::error_code ec;
    fs::remove_all(secondary_dir, ec);
  }
}

void Journal::Impl::WriterLoop() {
  for (;;) {
    std::deque<PendingAppend> group;
    {
      std::unique_lock lock(mu);
      writer_idle = true;
      wake.wait(lock, [&] { return stopping || !queue.empty(); });
      writer_idle = false;
      if (queue.empty()) return;  // stopping, and everything queued has been committed
      group.swap(queue);
    }
    CommitGroup(group);
    WaitForBarrier();
  }
}

void Journal::Impl::WaitForBarrier() {
  auto passed = std::make_shared<std::atomic<bool>>(false);
  {
    // Called under barrier_mu, so that once SetGroupBarrier(nullptr) returns the old barrier is
    // never called again (its owner may be gone).
    std::lock_guard barrier_lock(barrier_mu);
    if (!group_barrier) return;
    group_barrier([this, passed] {
      passed->store(true);
      std::lock_guard lock(mu);  // so the notification cannot slip in before the wait below
      barrier_passed.notify_all();
    });
  }
  std::unique_lock lock(mu);
  barrier_passed.wait_for(lock, kBarrierTimeout, [&] { return passed->load() || stopping; });
}

void Journal::Impl::CommitGroup(std::deque<PendingAppend>& group) {
  Status write_status;
  {
    std::lock_guard lock(mu);
    write_status = failed;
  }
  if (write_status.ok()) {
    bool any_txn = false;
    for (const PendingAppend& p : group) any_txn |= static_cast<bool>(p.txn);

    rocksdb::WriteOptions wo;
    wo.sync = true;
    auto started = std::chrono::steady_clock::now();
    if (options.fault_before_write) write_status = options.fault_before_write(group.size());
    if (!write_status.ok()) {
      // An injected failure: nothing of the group is written.
    } else if (!any_txn) {
      // The common case (step results): no reads, so a plain batch with no index to maintain.
      rocksdb::WriteBatch wb;
      for (const PendingAppend& p : group) Stage(*this, p.batch, wb);
      write_status = FromRocks(db->Write(wo, &wb), "journal write");
    } else {
      rocksdb::WriteBatchWithIndex wb(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
      GroupTxn txn(*this, wb);
      for (PendingAppend& p : group) {
        p.result = txn.Run([&](Txn& t) {
          Stage(*this, p.batch, wb);
          return p.txn ? p.txn(t) : Status::Ok();
        });
      }
      write_status = FromRocks(db->Write(wo, wb.GetWriteBatch()), "journal write");
    }
    if (!write_status.ok()) {
      write_status = Unavailable("journal is fail-stopped after a write error (" +
                                 write_status.ToString() + "); restart the process");
      std::lock_guard lock(mu);
      failed = write_status;
    } else {
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::lock_guard lock(mu);
      ++stats.groups;
      stats.appends += group.size();
      stats.commit_seconds.Observe(seconds);
      stats.group_appends.Observe(static_cast<double>(group.size()));
    }
  }
  for (PendingAppend& p : group) RunCallback(p.done, write_status.ok() ? p.result : write_status);
}

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Journal::~Journal() = default;

namespace {

// Makes the directory entry of a rename durable.
void SyncDirectory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

// A failed step of opening: what kind of failure it is, and the message for the operator.
struct Refusal {
  OpenError error;
  Status status;
};
using Refused = std::optional<Refusal>;  // nullopt: the step went fine

Refusal Refuse(OpenError error, Code code, std::string message) {
  return Refusal{error, Status(code, std::move(message))};
}

// Whether the operating system refuses this process access to `dir` or a file in it (EACCES or
// EPERM), asked after RocksDB failed: RocksDB reports those as untyped I/O errors.
bool AccessDenied(const fs::path& dir, bool read_only) {
  int mode = read_only ? (R_OK | X_OK) : (R_OK | W_OK | X_OK);
  auto denied = [](const fs::path& p, int m) {
    return ::access(p.c_str(), m) != 0 && (errno == EACCES || errno == EPERM);
  };
  if (denied(dir, mode)) return true;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) && denied(entry.path(), read_only ? R_OK : (R_OK | W_OK))) {
      return true;
    }
  }
  return false;
}

// Classifies a RocksDB failure to open or create the journal at `dir`.
Refusal RefuseFromRocks(const rocksdb::Status& s, const std::string& dir, bool read_only,
                        const std::string& what) {
  std::string detail = what + " " + dir + ": " + s.ToString();
  if (s.IsNoSpace()) {
    return Refuse(OpenError::kNoSpace, Code::kUnavailable, detail + " (the disk is full)");
  }
  // RocksDB's lock errors ("While lock file", "lock hold by current process") carry no subcode.
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return Refuse(OpenError::kHeld, Code::kFailedPrecondition,
                  "the journal at " + dir + " is in use by another process");
  }
  if (AccessDenied(dir, read_only)) {
    return Refuse(OpenError::kPermissionDenied, Code::kIOError,
                  detail + " (permission denied: this user may not read or write its files)");
  }
  if (s.IsIOError() && !s.IsPathNotFound()) return Refuse(OpenError::kIOError, Code::kIOError, detail);
  // Corruption, or a file the journal lists (a MANIFEST, a table) that is gone.
  return Refuse(OpenError::kCorrupt, Code::kCorruption, detail);
}

// Creates an empty journal at `dir` atomically: it is built beside it, with every column family
// and the format marker, and renamed into place, so a crash leaves either no journal or a whole one.
Refused CreateJournal(const std::string& dir, rocksdb::Env* env, uint32_t version) {
  fs::path target = fs::absolute(dir);
  fs::path staging = target;
  staging += ".creating";
  std::error_code ec;
  fs::remove_all(staging, ec);  // left by a creation that crashed
  fs::create_directories(target.parent_path(), ec);

  rocksdb::DBOptions db_options = DbOptions(env);
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // RocksDB reports the directory it is about to create as an error; what fails is returned.
  db_options.info_log = std::make_shared<ProcessLogger>(rocksdb::InfoLogLevel::FATAL_LEVEL);
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, CfOptions());
  for (const char* n : kCfNames) cfs.emplace_back(n, CfOptions(n));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, staging.string(), cfs, &handles, &raw);
  if (s.ok()) {
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db->Put(wo, handles[0], kMetaFormat, FormatMarker(version));
    for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
    if (s.ok()) s = db->Close();
  }
  if (!s.ok()) {
    Refusal r = RefuseFromRocks(s, target.parent_path().string(), false, "cannot create a journal in");
    // Nothing was there to be corrupt: a failure to create one is an I/O problem.
    if (r.error == OpenError::kCorrupt) r.error = OpenError::kIOError;
    return r;
  }
  if (::rename(staging.c_str(), target.c_str()) != 0) {
    return Refuse(errno == EACCES ? OpenError::kPermissionDenied : OpenError::kIOError,
                  Code::kIOError,
                  "cannot move the new journal into " + dir + ": " + std::strerror(errno));
  }
  SyncDirectory(target.parent_path());
  return std::nullopt;
}

// Creates the journal when there is none and the options allow it.
Refused EnsureJournal(const std::string& dir, const Options& options, rocksdb::Env* env,
                      uint32_t version) {
  std::error_code ec;
  if (fs::exists(fs::path(dir) / "CURRENT", ec)) return std::nullopt;
  if (ec == std::errc::permission_denied) {
    return Refuse(OpenError::kPermissionDenied, Code::kIOError,
                  "cannot look into " + dir + ": permission denied");
  }
  if (ec) return Refuse(OpenError::kIOError, Code::kIOError, "cannot look into " + dir + ": " + ec.message());
  if (!options.create_if_missing || options.read_only) {
    return Refuse(OpenError::kNoJournal, Code::kNotFound, "no journal at " + dir);
  }
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    return Refuse(OpenError::kCorrupt, Code::kCorruption,
                  dir + " is not empty and holds no journal; refusing to create one there");
  }
  return CreateJournal(dir, env, version);
}

// The column families to open: default, then ours in kCfNames order (Handle() indexes them), then
// any a newer build added (kept open, never touched).
Refused ColumnFamilies(const std::string& dir, const rocksdb::DBOptions& db_options, bool read_only,
                       std::vector<rocksdb::ColumnFamilyDescriptor>* cfs) {
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, dir, &names);
  if (!s.ok()) return RefuseFromRocks(s, dir, read_only, "cannot read the journal at");
  for (const char* want : kCfNames) {
    if (std::find(names.begin(), names.end(), want) == names.end()) {
      return Refuse(OpenError::kCorrupt, Code::kCorruption,
                    dir + " holds a RocksDB database that is not a zlh-flow journal (no '" + want +
                        "' column family)");
    }
  }
  cfs->emplace_back(rocksdb::kDefaultColumnFamilyName, CfOptions());
  for (const char* n : kCfNames) cfs->emplace_back(n, CfOptions(n));
  for (const std::string& n : names) {
    if (n != rocksdb::kDefaultColumnFamilyName &&
        std::find(std::begin(kCfNames), std::end(kCfNames), n) == std::end(kCfNames)) {
      cfs->emplace_back(n, CfOptions());
    }
  }
  return std::nullopt;
}

// Checks the format marker: a zlh-flow journal of a format this build reads or can migrate; its
// version in *version.
Refused CheckFormat(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* meta, const std::string& dir,
                    const FormatPlan& plan, uint32_t* version) {
  std::string marker;
  rocksdb::Status s = db.Get(rocksdb::ReadOptions(), meta, kMetaFormat, &marker);
  if (s.IsNotFound()) {
    return Refuse(OpenError::kCorrupt, Code::kCorruption,
                  dir + " holds a RocksDB database without a zlh-flow format marker");
  }
  if (!s.ok()) return RefuseFromRocks(s, dir, true, "cannot read the format marker of");
  std::optional<uint32_t> found = ParseFormatMarker(marker);
  if (!found) {
    return Refuse(OpenError::kCorrupt, Code::kCorruption,
                  dir + " is not a zlh-flow journal (format marker '" + marker + "')");
  }
  std::string formats = "the journal at " + dir + " has format " + std::to_string(*found);
  if (*found > plan.version) {
    return Refuse(OpenError::kNewerFormat, Code::kFailedPrecondition,
                  formats + ", newer than this build supports (" + std::to_string(plan.version) +
                      "); run a newer zlh-flow");
  }
  if (*found < plan.oldest) {
    return Refuse(OpenError::kOlderFormat, Code::kFailedPrecondition,
                  formats + ", older than this build can migrate (from " +
                      std::to_string(plan.oldest) + "); migrate it with an earlier release first");
  }
  *version = *found;
  return std::nullopt;
}

// Brings the journal from format `version` to the plan's, one synced atomic write per step (its
// changes and the new marker), appending what each step said to *applied.
Refused MigrateFormat(Journal::Impl& impl, const std::string& dir, uint32_t version,
                      const FormatPlan& plan, std::vector<std::string>* applied) {
  auto step_from = [&plan](uint32_t from) {
    return std::find_if(plan.migrations.begin(), plan.migrations.end(),
                        [from](const Migration& x) { return x.from == from; });
  };
  auto name = [&dir](uint32_t from) {
    return "migrating the journal at " + dir + " from format " + std::to_string(from) + " to " +
           std::to_string(from + 1);
  };
  // Every step must be there before the first is taken: none is, rather than half of them.
  for (uint32_t from = version; from < plan.version; ++from) {
    if (step_from(from) == plan.migrations.end()) {
      return Refuse(OpenError::kOlderFormat, Code::kFailedPrecondition,
                    name(from) + ": this build has no step for it");
    }
  }
  for (uint32_t from = version; from < plan.version; ++from) {
    std::string step = name(from);
    auto m = step_from(from);
    rocksdb::WriteBatchWithIndex wb(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
    Status s = GroupTxn(impl, wb).Run(m->apply);
    if (!s.ok()) {
      return Refuse(OpenError::kOlderFormat, Code::kFailedPrecondition,
                    step + " failed: " + s.message() + "; it stays at format " +
                        std::to_string(from));
    }
    wb.Put(impl.handles[0], kMetaFormat, FormatMarker(from + 1));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::Status w = impl.db->Write(wo, wb.GetWriteBatch());
    if (!w.ok()) return RefuseFromRocks(w, dir, false, step + ": cannot write to");
    spdlog::info("{}: {}", step, m->what);
    applied->push_back(m->what);
  }
  return std::nullopt;
}

}  // namespace

std::string_view OpenErrorName(OpenError error) {
  switch (error) {
    case OpenError::kNone: return "none";
    case OpenError::kNoJournal: return "no journal";
    case OpenError::kHeld: return "held by another process";
    case OpenError::kNewerFormat: return "newer format";
    case OpenError::kOlderFormat: return "older format";
    case OpenError::kCorrupt: return "corrupt";
    case OpenError::kPermissionDenied: return "permission denied";
    case OpenError::kNoSpace: return "disk full";
    case OpenError::kIOError: return "I/O error";
  }
  return "unknown";
}

std::string_view OpenErrorHint(OpenError error) {
  switch (error) {
    case OpenError::kNone: return "";
    case OpenError::kNoJournal: return "check the data directory";
    case OpenError::kHeld: return "another process (a running zlhd?) holds it: stop that one first";
    case OpenError::kNewerFormat: return "run the zlh-flow release that wrote it, or a newer one";
    case OpenError::kOlderFormat:
      return "back up the data directory, then run zlhd --migrate once (docs/operations.md, Upgrade)";
    case OpenError::kCorrupt:
      return "restore it from a backup; zlh-journal verify names what is damaged";
    case OpenError::kPermissionDenied: return "run as the user that owns the journal's files";
    case OpenError::kNoSpace: return "free space on its disk, then start again";
    case OpenError::kIOError: return "check the disk and the operating system's log";
  }
  return "";
}

Result<std::unique_ptr<Journal>> Journal::Open(const std::string& dir, Options options) {
  Opened opened = TryOpen(dir, std::move(options));
  if (!opened.journal) return opened.status;
  return std::move(opened.journal);
}

Journal::Opened Journal::TryOpen(const std::string& dir, Options options) {
  auto refused = [](Refusal r) { return Opened{nullptr, r.error, std::move(r.status), {}}; };
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->options = std::move(options);
  if (impl->options.file_system) impl->env = rocksdb::NewCompositeEnv(impl->options.file_system);
  const bool read_only = impl->options.read_only;
  const FormatPlan& plan = impl->options.format ? *impl->options.format : BuildFormat();

  if (Refused r = EnsureJournal(dir, impl->options, impl->env.get(), plan.version)) {
    return refused(*r);
  }
  rocksdb::DBOptions db_options = DbOptions(impl->env.get());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  if (Refused r = ColumnFamilies(dir, db_options, read_only, &cfs)) return refused(*r);

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (read_only) {
    // A secondary instance: reads the primary's files (and tails its WAL on CatchUp) without its
    // lock, so it works beside a running daemon and can neither block nor change it.
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/zlh-journal-reader-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      return refused(Refuse(OpenError::kIOError, Code::kIOError,
                            "cannot make a directory for a journal reader in " + tmpl));
    }
    impl->secondary_dir = tmpl;
    db_options.max_open_files = -1;  // required of a secondary instance
    // A reader's warnings (the writer deleting files under it) are noise on a CLI's stderr.
    db_options.info_log = std::make_shared<ProcessLogger>(rocksdb::InfoLogLevel::ERROR_LEVEL);
    s = rocksdb::DB::OpenAsSecondary(db_options, dir, impl->secondary_dir, cfs, &impl->handles,
                                     &raw);
  } else {
    s = rocksdb::DB::Open(db_options, dir, cfs, &impl->handles, &raw);
  }
  if (!s.ok()) return refused(RefuseFromRocks(s, dir, read_only, "cannot open the journal at"));
  impl->db.reset(raw);

  auto* meta = impl->handles[0];
  uint32_t version = 0;
  if (Refused r = CheckFormat(*impl->db, meta, dir, plan, &version)) return refused(*r);
  std::vector<std::string> migrated;
  if (version < plan.version) {
    if (read_only || !impl->options.migrate) {
      return refused(Refuse(OpenError::kOlderFormat, Code::kFailedPrecondition,
                            "the journal at " + dir + " has format " + std::to_string(version) +
                                ", older than this build's (" + std::to_string(plan.version) +
                                "); it is migrated only when asked: zlhd --migrate"));
    }
    if (Refused r = MigrateFormat(*impl, dir, version, plan, &migrated)) return refused(*r);
  }

  std::string count;
  s = impl->db->Get(rocksdb::ReadOptions(), meta, kMetaOpenCount, &count);
  if (s.ok() && count.size() == 8) impl->open_count = GetU64(count);
  if (!read_only) {
    ++impl->open_count;
    std::string encoded;
    PutU64(&encoded, impl->open_count);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = impl->db->Put(wo, meta, kMetaOpenCount, encoded);
    if (!s.ok()) return refused(RefuseFromRocks(s, dir, false, "cannot write to the journal at"));
    Impl* p = impl.get();
    impl->writer = std::thread([p] { p->WriterLoop(); });
  }
  return Opened{std::unique_ptr<Journal>(new Journal(std::move(impl))), OpenError::kNone, {},
                std::move(migrated)};
}

void Journal::Append(Batch batch, TxnFn txn, Callback done) {
  Status rejected;
  bool notify = false;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->options.read_only) {
      rejected = FailedPrecondition("the journal is open read-only");
    } else if (!impl_->failed.ok()) {
      rejected = impl_->failed;
    } else if (impl_->stopping) {
      rejected = Unavailable("journal is closing");
    } else {
      impl_->queue.push_back(PendingAppend{std::move(batch), std::move(txn), std::move(done), {}});
      notify = impl_->writer_idle && impl_->queue.size() == 1;
    }
  }
  if (!rejected.ok()) {
    done(rejected);
    return;
  }
  if (notify) impl_->wake.notify_one();
}

Status Journal::AppendSync(Batch batch, TxnFn txn) {
  std::promise<Status> promise;
  auto future = promise.get_future();
  Append(std::move(batch), std::move(txn), [&promise](Status s) { promise.set_value(std::move(s)); });
  return future.get();
}

Result<std::optional<std::string>> Journal::Get(Cf cf, std::string_view key) const {
  std::string value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->Handle(cf), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "journal read");
  return std::optional<std::string>(std::move(value));
}

namespace {

// Positions `it` at the last key starting with `prefix` (the last one before the prefix's
// successor); leaves it invalid or past the prefix when there is none.
void SeekLastWithPrefix(rocksdb::Iterator& it, std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<uint8_t>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) {
    it.SeekToLast();
    return;
  }
  end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
  it.SeekForPrev(end);
  if (it.Valid() && it.key() == rocksdb::Slice(end)) it.Prev();
}

class RocksCursor final : public Cursor {
 public:
  explicit RocksCursor(rocksdb::Iterator* it) : it_(it) {}
  bool SeekLast(std::string_view prefix) override {
    SeekLastWithPrefix(*it_, prefix);
    return it_->Valid() && it_->key().starts_with(prefix);
  }
  std::string_view key() const override { return it_->key().ToStringView(); }
  std::string_view value() const override { return it_->value().ToStringView(); }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace

namespace {

// Picks the event puts out of the write batches of the WAL.
class EventPuts final : public rocksdb::WriteBatch::Handler {
 public:
  EventPuts(uint32_t events_cf,
            const std::function<void(std::string_view, const proto::Event&)>& visit)
      : events_cf_(events_cf), visit_(visit) {}
  rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    if (cf != events_cf_) return rocksdb::Status::OK();
    proto::Event e;
    std::string_view stream;
    EventKeySeq(key.ToStringView(), &stream);
    if (!e.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      return rocksdb::Status::Corruption("an event of the write-ahead log cannot be decoded");
    }
    visit_(stream, e);
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteCF(uint32_t, const rocksdb::Slice&) override {
    return rocksdb::Status::OK();
  }

 private:
  uint32_t events_cf_;
  const std::function<void(std::string_view, const proto::Event&)>& visit_;
};

}  // namespace

uint64_t Journal::LatestPosition() const { return impl_->db->GetLatestSequenceNumber(); }

Status Journal::Follow(
    uint64_t* position,
    const std::function<void(std::string_view stream, const proto::Event&)>& visit) const {
  if (impl_->db->GetLatestSequenceNumber() <= *position) return Status::Ok();
  std::unique_ptr<rocksdb::TransactionLogIterator> it;
  rocksdb::Status s = impl_->db->GetUpdatesSince(*position + 1, &it);
  if (!s.ok()) {
    return NotFound("the write-ahead log no longer holds position " +
                    std::to_string(*position + 1) + ": " + s.ToString());
  }
  EventPuts handler(impl_->Handle(Cf::kEvents)->GetID(), visit);
  for (; it->Valid(); it->Next()) {
    rocksdb::BatchResult batch = it->GetBatch();
    uint64_t last = batch.sequence + static_cast<uint64_t>(batch.writeBatchPtr->Count()) - 1;
    if (last <= *position) continue;  // the first batch may start before the position
    ZLH_RETURN_IF_ERROR(FromRocks(batch.writeBatchPtr->Iterate(&handler), "write-ahead log"));
    *position = last;
  }
  return Status::Ok();
}

std::unique_ptr<Cursor> Journal::NewCursor(Cf cf) const {
  return std::make_unique<RocksCursor>(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->Handle(cf)));
}

Status Journal::Scan(Cf cf, std::string_view prefix,
                     const std::function<bool(std::string_view, std::string_view)>& visit,
                     Direction direction) const {
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->Handle(cf)));
  if (direction == Direction::kForward) {
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (!visit(it->key().ToStringView(), it->value().ToStringView())) break;
    }
  } else {
    SeekLastWithPrefix(*it, prefix);
    for (; it->Valid() && it->key().starts_with(prefix); it->Prev()) {
      if (!visit(it->key().ToStringView(), it->value().ToStringView())) break;
    }
  }
  return FromRocks(it->status(), "journal scan");
}

Status Journal::ScanBefore(Cf cf, std::string_view prefix, std::string_view before,
                          const std::function<bool(std::string_view, std::string_view)>& visit) const {
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->Handle(cf)));
  if (before.empty()) {
    SeekLastWithPrefix(*it, prefix);
  } else {
    it->SeekForPrev(rocksdb::Slice(before.data(), before.size()));
    if (it->Valid() && it->key().ToStringView() == before) it->Prev();
  }
  for (; it->Valid() && it->key().starts_with(prefix); it->Prev()) {
    if (!visit(it->key().ToStringView(), it->value().ToStringView())) break;
  }
  return FromRocks(it->status(), "journal scan");
}

Status Journal::CatchUp() {
  if (!impl_->options.read_only) return Status::Ok();
  return FromRocks(impl_->db->TryCatchUpWithPrimary(), "journal catch-up");
}

Result<std::vector<proto::Event>> Journal::ReadEvents(std::string_view stream) const {
  std::vector<proto::Event> events;
  Status parse_error;
  Status s = Scan(Cf::kEvents, EventPrefix(stream), [&](std::string_view key, std::string_view v) {
    proto::Event e;
    if (!e.ParseFromArray(v.data(), static_cast<int>(v.size())) || e.seq() != EventKeySeq(key)) {
      parse_error = Corruption("event " + std::to_string(EventKeySeq(key)) + " of " +
                               std::string(stream) + " cannot be decoded");
      return false;
    }
    events.push_back(std::move(e));
    return true;
  });
  ZLH_RETURN_IF_ERROR(s);
  ZLH_RETURN_IF_ERROR(parse_error);
  return events;
}

Result<std::optional<proto::WorkflowSummary>> Journal::ReadSummary(std::string_view id) const {
  auto v = Get(Cf::kSummaries, id);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<proto::WorkflowSummary>();
  proto::WorkflowSummary summary;
  if (!summary.ParseFromString(**v)) {
    return Corruption("summary of " + std::string(id) + " cannot be decoded");
  }
  return std::optional<proto::WorkflowSummary>(std::move(summary));
}

Result<std::vector<std::string>> Journal::IdsWithStatus(std::initializer_list<int> statuses) const {
  std::vector<std::string> ids;
  for (int status : statuses) {
    std::string prefix = StatusIndexPrefix(status);
    ZLH_RETURN_IF_ERROR(Scan(Cf::kIndex, prefix, [&](std::string_view key, std::string_view) {
      ids.emplace_back(key.substr(prefix.size()));
      return true;
    }));
  }
  return ids;
}

Status Journal::Checkpoint(const std::string& dir) const {
  if (impl_->options.read_only) {
    return FailedPrecondition("a read-only journal cannot take a checkpoint");
  }
  std::error_code ec;
  if (fs::exists(dir, ec)) return {Code::kAlreadyExists, dir + " exists already"};
  fs::create_directories(fs::absolute(dir).parent_path(), ec);
  rocksdb::Checkpoint* raw = nullptr;
  ZLH_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(impl_->db.get(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush = 0: the memtables are flushed first, so the copy needs no WAL replay.
  ZLH_RETURN_IF_ERROR(FromRocks(checkpoint->CreateCheckpoint(dir, 0), "checkpoint to " + dir));
  SyncDirectory(fs::absolute(dir).parent_path());
  return Status::Ok();
}

namespace {

// One pass of Journal::VerifyFiles.
Status CheckLiveFiles(rocksdb::DB& db) {
  std::vector<rocksdb::LiveFileMetaData> files;
  db.GetLiveFilesMetaData(&files);
  for (const rocksdb::LiveFileMetaData& f : files) {
    fs::path path = fs::path(f.directory) / f.relative_filename;
    std::error_code ec;
    uint64_t size = fs::file_size(path, ec);
    if (ec) {
      return Corruption("table file " + f.relative_filename + " (column family " +
                        f.column_family_name + ") is listed in the MANIFEST but unreadable: " +
                        ec.message());
    }
    if (size != f.size) {
      return Corruption("table file " + f.relative_filename + " is " + std::to_string(size) +
                        " bytes, the MANIFEST says " + std::to_string(f.size));
    }
  }
  rocksdb::Status s = db.VerifyChecksum();
  if (!s.ok()) return Corruption("table checksums: " + s.ToString());
  return Status::Ok();
}

// CheckLiveFiles on a second, read-only instance over `dir` that opens every table file as it
// starts. A secondary instance (a read-only Journal) cannot be asked: it drops a table file it
// cannot find from its view, since the primary may have deleted it.
Status CheckFilesStrictly(const std::string& dir, rocksdb::Env* env) {
  rocksdb::DBOptions o = DbOptions(env);
  o.info_log = std::make_shared<ProcessLogger>(rocksdb::InfoLogLevel::ERROR_LEVEL);
  o.max_open_files = -1;
  o.paranoid_checks = true;
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(o, dir, &names);
  if (!s.ok()) return Corruption("cannot list the journal's column families: " + s.ToString());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const std::string& n : names) cfs.emplace_back(n, CfOptions(n));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenForReadOnly(o, dir, cfs, &handles, &raw);
  if (!s.ok()) return Corruption("the journal's files do not open: " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  Status checked = CheckLiveFiles(*db);
  for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
  return checked;
}

}  // namespace

Status Journal::VerifyFiles() {
  if (!impl_->options.read_only) return CheckLiveFiles(*impl_->db);
  // Beside a writer, a file may be compacted away between reading the MANIFEST and opening it; the
  // next attempt reads the newer MANIFEST. Damage stays.
  constexpr int kAttempts = 3;
  Status s;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    s = CheckFilesStrictly(impl_->dir, impl_->env.get());
    if (s.ok()) return s;
  }
  return s;
}

void Journal::SetGroupBarrier(GroupBarrier barrier) {
  std::lock_guard lock(impl_->barrier_mu);
  impl_->group_barrier = std::move(barrier);
}

uint64_t Journal::open_count() const { return impl_->open_count; }

const FormatPlan* Journal::format_plan() const { return impl_->options.format; }

Status Journal::health() const {
  std::lock_guard lock(impl_->mu);
  return impl_->failed;
}

WriterStats Journal::writer_stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

const std::string& Journal::dir() const { return impl_->dir; }

}  // namespace zlh::journal
