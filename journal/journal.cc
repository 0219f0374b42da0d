#include "journal/journal.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/write_batch_with_index.h>
#include <rocksdb/write_batch.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "journal/format.h"

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

std::string FormatMarker(uint32_t version) {
  return "zlh-flow journal " + std::to_string(version);
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

rocksdb::DBOptions DbOptions() {
  rocksdb::DBOptions o;
  o.max_background_jobs = 2;
  o.max_total_wal_size = 128 << 20;  // older WAL files force their column families to flush
  // All column families flush together: an append spans several, and a reader (a secondary
  // instance) that picks up a flush of one without the others would see half of an append.
  o.atomic_flush = true;
  // Flushed WAL files stay archived a while, so that readers can follow the journal (Follow).
  o.WAL_ttl_seconds = 600;
  o.WAL_size_limit_MB = 256;
  o.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  o.keep_log_file_num = 3;
  // One writer thread: concurrent memtable writes buy nothing, and they disable insert hints.
  o.allow_concurrent_memtable_write = false;
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
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // index 0: default, then kCfNames order
  uint64_t open_count = 0;
  std::string secondary_dir;  // read-only opens: the secondary instance's own files

  mutable std::mutex mu;
  std::condition_variable wake;
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
  void SetSavePoint() override { wb_.SetSavePoint(); }
  void RollbackToSavePoint() override { (void)wb_.RollbackToSavePoint(); }
  void PopSavePoint() override { (void)wb_.PopSavePoint(); }

 private:
  const Journal::Impl& impl_;
  rocksdb::WriteBatchWithIndex& wb_;
};

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
      wake.wait(lock, [&] { return stopping || !queue.empty(); });
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
      wake.notify_all();
    });
  }
  std::unique_lock lock(mu);
  wake.wait_for(lock, kBarrierTimeout, [&] { return passed->load() || stopping; });
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
        wb.SetSavePoint();
        Stage(*this, p.batch, wb);
        if (p.txn) p.result = p.txn(txn);
        if (p.result.ok()) {
          (void)wb.PopSavePoint();
        } else {
          (void)wb.RollbackToSavePoint();
        }
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
  for (PendingAppend& p : group) {
    p.done(write_status.ok() ? p.result : write_status);
  }
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

// Creates an empty journal at `dir` atomically: it is built beside it, with every column family
// and the format marker, and renamed into place, so a crash leaves either no journal or a whole one.
Status CreateJournal(const std::string& dir) {
  fs::path target = fs::absolute(dir);
  fs::path staging = target;
  staging += ".creating";
  std::error_code ec;
  fs::remove_all(staging, ec);  // left by a creation that crashed
  fs::create_directories(target.parent_path(), ec);

  rocksdb::DBOptions db_options = DbOptions();
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, CfOptions());
  for (const char* n : kCfNames) cfs.emplace_back(n, CfOptions(n));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, staging.string(), cfs, &handles, &raw);
  if (!s.ok()) return IOError("cannot create a journal at " + staging.string() + ": " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = db->Put(wo, handles[0], kMetaFormat, FormatMarker(kFormatVersion));
  for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
  if (s.ok()) s = db->Close();
  db.reset();
  if (!s.ok()) return IOError("cannot create a journal at " + staging.string() + ": " + s.ToString());
  if (::rename(staging.c_str(), target.c_str()) != 0) {
    return IOError("cannot move the new journal into " + dir + ": " + std::strerror(errno));
  }
  SyncDirectory(target.parent_path());
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Journal>> Journal::Open(const std::string& dir, Options options) {
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->options = std::move(options);

  std::error_code ec;
  if (!fs::exists(fs::path(dir) / "CURRENT", ec)) {
    if (!impl->options.create_if_missing || impl->options.read_only) {
      return NotFound("no journal at " + dir);
    }
    if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
      return Corruption(dir + " is not empty and holds no journal; refusing to create one there");
    }
    ZLH_RETURN_IF_ERROR(CreateJournal(dir));
  }

  rocksdb::DBOptions db_options = DbOptions();

  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, dir, &names);
  if (!s.ok()) return Corruption("cannot read the journal at " + dir + ": " + s.ToString());
  for (const char* want : kCfNames) {
    if (std::find(names.begin(), names.end(), want) == names.end()) {
      return Corruption(dir + " holds a RocksDB database that is not a zlh-flow journal (no '" +
                        want + "' column family)");
    }
  }
  // Default, then ours in kCfNames order (Handle() indexes them), then any a newer build added
  // (kept open, never touched).
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, CfOptions());
  for (const char* n : kCfNames) cfs.emplace_back(n, CfOptions(n));
  for (const std::string& n : names) {
    if (n != rocksdb::kDefaultColumnFamilyName &&
        std::find(std::begin(kCfNames), std::end(kCfNames), n) == std::end(kCfNames)) {
      cfs.emplace_back(n, CfOptions());
    }
  }

  rocksdb::DB* raw = nullptr;
  if (impl->options.read_only) {
    // A secondary instance: reads the primary's files (and tails its WAL on CatchUp) without its
    // lock, so it works beside a running daemon and can neither block nor change it.
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/zlh-journal-reader-XXXXXX";
    if (!mkdtemp(tmpl.data())) return IOError("cannot make a directory for a journal reader");
    impl->secondary_dir = tmpl;
    db_options.max_open_files = -1;  // required of a secondary instance
    s = rocksdb::DB::OpenAsSecondary(db_options, dir, impl->secondary_dir, cfs, &impl->handles,
                                     &raw);
  } else {
    s = rocksdb::DB::Open(db_options, dir, cfs, &impl->handles, &raw);
  }
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return FailedPrecondition("the journal at " + dir + " is in use by another process");
    }
    return Corruption("cannot open the journal at " + dir + ": " + s.ToString());
  }
  impl->db.reset(raw);

  auto* meta = impl->handles[0];
  std::string marker;
  s = impl->db->Get(rocksdb::ReadOptions(), meta, kMetaFormat, &marker);
  if (s.IsNotFound()) {
    return Corruption(dir + " holds a RocksDB database without a zlh-flow format marker");
  }
  if (!s.ok()) return Corruption("cannot read the journal's format marker: " + s.ToString());
  constexpr std::string_view kPrefix = "zlh-flow journal ";
  if (!std::string_view(marker).starts_with(kPrefix)) {
    return Corruption(dir + " is not a zlh-flow journal (format marker '" + marker + "')");
  }
  unsigned long version = std::strtoul(marker.c_str() + kPrefix.size(), nullptr, 10);
  if (version > kFormatVersion) {
    return FailedPrecondition("the journal at " + dir + " has format " + std::to_string(version) +
                              ", newer than this build supports (" +
                              std::to_string(kFormatVersion) + "); run a newer zlh-flow");
  }

  std::string count;
  s = impl->db->Get(rocksdb::ReadOptions(), meta, kMetaOpenCount, &count);
  if (s.ok() && count.size() == 8) impl->open_count = GetU64(count);
  if (impl->options.read_only) return std::unique_ptr<Journal>(new Journal(std::move(impl)));
  ++impl->open_count;
  std::string encoded;
  PutU64(&encoded, impl->open_count);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = impl->db->Put(wo, meta, kMetaOpenCount, encoded);
  if (!s.ok()) return FromRocks(s, "journal open");

  Impl* p = impl.get();
  impl->writer = std::thread([p] { p->WriterLoop(); });
  return std::unique_ptr<Journal>(new Journal(std::move(impl)));
}

void Journal::Append(Batch batch, TxnFn txn, Callback done) {
  Status rejected;
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
    }
  }
  if (!rejected.ok()) {
    done(rejected);
    return;
  }
  impl_->wake.notify_one();
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

void Journal::SetGroupBarrier(GroupBarrier barrier) {
  std::lock_guard lock(impl_->barrier_mu);
  impl_->group_barrier = std::move(barrier);
}

uint64_t Journal::open_count() const { return impl_->open_count; }

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
