// PowerCutFs: a RocksDB FileSystem for tests that simulates losing power. It forwards to the real
// (POSIX) file system and remembers, per file written through it, how many bytes were made durable
// (Sync/Fsync; RangeSync and Flush do not count) and whether the file's directory entry was made
// durable (an fsync of its directory after it was created). Cut() is the moment power goes: from
// then on every write, sync, create, rename and delete fails with an IOError and changes nothing,
// so the process can shut its database down without anything more reaching the disk. Once the
// database is closed, DropUnsynced() makes the disk look as it would after a reboot: each file is
// cut back to its durable length (plus, optionally, a prefix of the unsynced tail: a kernel may
// have written some of it back), and files created since their directory's last fsync are removed.
// Not modelled: a rename or delete that was not followed by a directory fsync is kept (the old name
// never comes back), as in LevelDB's fault_injection_test.
//
// Thread-safety: every method may be called from any thread (one mutex guards the bookkeeping; it
// is held across a sync, so Cut() happens strictly before or after each sync).
#pragma once

#include <rocksdb/file_system.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "base/status.h"

namespace zlh::journal {

class PowerCutFs final : public rocksdb::FileSystemWrapper {
 public:
  PowerCutFs();

  // Power goes: every later change fails, and nothing more reaches the disk.
  void Cut();
  // After the database using this file system is closed: drops what was not durable at the cut
  // (keeping, per file, `keep_unsynced_fraction` of its unsynced tail, 0 to 1), then powers back
  // on: later writes go through again and what is on disk now counts as durable.
  Status DropUnsynced(double keep_unsynced_fraction = 0);
  // Bytes dropped by the last DropUnsynced and files it removed (for the test's statistics).
  uint64_t dropped_bytes() const;
  uint64_t removed_files() const;

  const char* Name() const override { return "zlh.PowerCutFs"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomRWFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* r,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& o,
                                 std::unique_ptr<rocksdb::FSDirectory>* r,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus Truncate(const std::string& f, size_t size, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& from, const std::string& to,
                             const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDir(const std::string& d, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDirIfMissing(const std::string& d, const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteDir(const std::string& d, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override;

  // Bookkeeping called by the file and directory wrappers (under mu_ where it says so).
  struct FileState {
    uint64_t written = 0;  // bytes handed to the real file
    uint64_t synced = 0;   // of which durable
    bool entry_synced = false;  // its directory was fsynced after it was created
  };
  // Runs `op` under the lock unless the power is cut; the IOError otherwise.
  rocksdb::IOStatus Locked(const std::function<rocksdb::IOStatus()>& op);
  FileState& StateLocked(const std::string& path) { return files_[path]; }
  void DirectorySyncedLocked(const std::string& dir);

 private:
  rocksdb::IOStatus Track(const std::string& f, std::unique_ptr<rocksdb::FSWritableFile>* r,
                          bool fresh);

  mutable std::mutex mu_;
  bool cut_ = false;                        // guarded by mu_
  std::map<std::string, FileState> files_;  // guarded by mu_; by normalized path
  uint64_t dropped_bytes_ = 0;              // guarded by mu_
  uint64_t removed_files_ = 0;              // guarded by mu_
};

}  // namespace zlh::journal
