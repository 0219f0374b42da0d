#include "journal/power_cut_fs.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace zlh::journal {
namespace {

namespace fs = std::filesystem;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;

std::string Normal(const std::string& path) {
  std::string p = fs::path(path).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// A file written through PowerCutFs: every change goes through PowerCutFs::Locked, so none happens
// after the cut, and a sync credits the bytes written so far as durable.
class PowerCutFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  PowerCutFile(PowerCutFs& fs, std::string path, std::unique_ptr<rocksdb::FSWritableFile> file)
      : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs), path_(std::move(path)) {}

  IOStatus Append(const rocksdb::Slice& data, const IOOptions& o, IODebugContext* dbg) override {
    return fs_.Locked([&] {
      IOStatus s = target()->Append(data, o, dbg);
      if (s.ok()) fs_.StateLocked(path_).written += data.size();
      return s;
    });
  }
  IOStatus Append(const rocksdb::Slice& data, const IOOptions& o,
                  const rocksdb::DataVerificationInfo&, IODebugContext* dbg) override {
    return Append(data, o, dbg);
  }
  IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const IOOptions& o,
                            IODebugContext* dbg) override {
    return fs_.Locked([&] {
      IOStatus s = target()->PositionedAppend(data, offset, o, dbg);
      auto& state = fs_.StateLocked(path_);
      if (s.ok()) state.written = std::max<uint64_t>(state.written, offset + data.size());
      return s;
    });
  }
  IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const IOOptions& o,
                            const rocksdb::DataVerificationInfo&, IODebugContext* dbg) override {
    return PositionedAppend(data, offset, o, dbg);
  }
  IOStatus Truncate(uint64_t size, const IOOptions& o, IODebugContext* dbg) override {
    return fs_.Locked([&] {
      IOStatus s = target()->Truncate(size, o, dbg);
      auto& state = fs_.StateLocked(path_);
      if (s.ok()) {
        state.written = size;
        state.synced = std::min(state.synced, size);
      }
      return s;
    });
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* dbg) override {
    return Durable([&] { return target()->Sync(o, dbg); });
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    return Durable([&] { return target()->Fsync(o, dbg); });
  }
  // sync_file_range writes data back but promises nothing about durability: no credit.
  IOStatus RangeSync(uint64_t offset, uint64_t n, const IOOptions& o, IODebugContext* dbg) override {
    return fs_.Locked([&] { return target()->RangeSync(offset, n, o, dbg); });
  }
  IOStatus Flush(const IOOptions& o, IODebugContext* dbg) override {
    return fs_.Locked([&] { return target()->Flush(o, dbg); });
  }
  IOStatus Allocate(uint64_t offset, uint64_t len, const IOOptions& o,
                    IODebugContext* dbg) override {
    return fs_.Locked([&] { return target()->Allocate(offset, len, o, dbg); });
  }

 private:
  IOStatus Durable(const std::function<IOStatus()>& sync) {
    return fs_.Locked([&] {
      IOStatus s = sync();
      if (s.ok()) {
        auto& state = fs_.StateLocked(path_);
        state.synced = state.written;
      }
      return s;
    });
  }

  PowerCutFs& fs_;
  std::string path_;
};

// A directory: its fsync makes the entries of the files created in it durable.
class PowerCutDirectory final : public rocksdb::FSDirectoryWrapper {
 public:
  PowerCutDirectory(PowerCutFs& fs, std::string path, std::unique_ptr<rocksdb::FSDirectory> dir)
      : FSDirectoryWrapper(std::move(dir)), fs_(fs), path_(std::move(path)) {}

  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    return fs_.Locked([&] {
      IOStatus s = FSDirectoryWrapper::Fsync(o, dbg);
      if (s.ok()) fs_.DirectorySyncedLocked(path_);
      return s;
    });
  }
  IOStatus FsyncWithDirOptions(const IOOptions& o, IODebugContext* dbg,
                               const rocksdb::DirFsyncOptions& dir_options) override {
    return fs_.Locked([&] {
      IOStatus s = FSDirectoryWrapper::FsyncWithDirOptions(o, dbg, dir_options);
      if (s.ok()) fs_.DirectorySyncedLocked(path_);
      return s;
    });
  }

 private:
  PowerCutFs& fs_;
  std::string path_;
};

}  // namespace

PowerCutFs::PowerCutFs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

void PowerCutFs::Cut() {
  std::lock_guard lock(mu_);
  cut_ = true;
}

IOStatus PowerCutFs::Locked(const std::function<IOStatus()>& op) {
  std::lock_guard lock(mu_);
  if (cut_) return IOStatus::IOError("the power is cut (PowerCutFs)");
  return op();
}

void PowerCutFs::DirectorySyncedLocked(const std::string& dir) {
  std::string d = Normal(dir);
  for (auto& [path, state] : files_) {
    if (fs::path(path).parent_path().string() == d) state.entry_synced = true;
  }
}

Status PowerCutFs::DropUnsynced(double keep_unsynced_fraction) {
  std::lock_guard lock(mu_);
  dropped_bytes_ = 0;
  removed_files_ = 0;
  for (const auto& [path, state] : files_) {
    std::error_code ec;
    if (!fs::exists(path, ec)) continue;  // deleted, or renamed away outside this file system
    if (!state.entry_synced) {
      if (::unlink(path.c_str()) != 0) return IOError("unlink " + path + ": " + strerror(errno));
      ++removed_files_;
      continue;
    }
    uint64_t size = fs::file_size(path, ec);
    if (ec) return IOError("size of " + path + ": " + ec.message());
    uint64_t unsynced = state.written > state.synced ? state.written - state.synced : 0;
    uint64_t keep = state.synced + static_cast<uint64_t>(static_cast<double>(unsynced) *
                                                         keep_unsynced_fraction);
    if (size > keep) {
      if (::truncate(path.c_str(), static_cast<off_t>(keep)) != 0) {
        return IOError("truncate " + path + ": " + strerror(errno));
      }
      dropped_bytes_ += size - keep;
    }
  }
  files_.clear();  // what is on disk now is what a reboot finds: durable
  cut_ = false;
  return Status::Ok();
}

uint64_t PowerCutFs::dropped_bytes() const {
  std::lock_guard lock(mu_);
  return dropped_bytes_;
}

uint64_t PowerCutFs::removed_files() const {
  std::lock_guard lock(mu_);
  return removed_files_;
}

IOStatus PowerCutFs::Track(const std::string& f, std::unique_ptr<rocksdb::FSWritableFile>* r,
                           bool fresh) {
  std::string path = Normal(f);
  if (fresh) {
    files_[path] = FileState{};
  } else if (!files_.count(path)) {
    // Reopened for appending, untouched since the last power-on: all of it is durable.
    std::error_code ec;
    uint64_t size = fs::file_size(path, ec);
    files_[path] = FileState{size, size, true};
  }
  *r = std::make_unique<PowerCutFile>(*this, path, std::move(*r));
  return IOStatus::OK();
}

IOStatus PowerCutFs::NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                     std::unique_ptr<rocksdb::FSWritableFile>* r,
                                     IODebugContext* dbg) {
  return Locked([&] {
    IOStatus s = target()->NewWritableFile(f, o, r, dbg);
    return s.ok() ? Track(f, r, /*fresh=*/true) : s;
  });
}

IOStatus PowerCutFs::ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                        std::unique_ptr<rocksdb::FSWritableFile>* r,
                                        IODebugContext* dbg) {
  return Locked([&] {
    bool existed = target()->FileExists(f, IOOptions(), dbg).ok();
    IOStatus s = target()->ReopenWritableFile(f, o, r, dbg);
    return s.ok() ? Track(f, r, /*fresh=*/!existed) : s;
  });
}

// Recycled log files and random-access writes are not modelled; the journal's options use neither,
// and a change that starts to would fail here rather than be tested wrongly.
IOStatus PowerCutFs::ReuseWritableFile(const std::string&, const std::string&,
                                       const rocksdb::FileOptions&,
                                       std::unique_ptr<rocksdb::FSWritableFile>*,
                                       IODebugContext*) {
  return IOStatus::NotSupported("PowerCutFs does not model recycled files");
}

IOStatus PowerCutFs::NewRandomRWFile(const std::string&, const rocksdb::FileOptions&,
                                     std::unique_ptr<rocksdb::FSRandomRWFile>*, IODebugContext*) {
  return IOStatus::NotSupported("PowerCutFs does not model random-access writes");
}

IOStatus PowerCutFs::NewDirectory(const std::string& name, const IOOptions& o,
                                  std::unique_ptr<rocksdb::FSDirectory>* r, IODebugContext* dbg) {
  IOStatus s = target()->NewDirectory(name, o, r, dbg);
  if (s.ok()) *r = std::make_unique<PowerCutDirectory>(*this, Normal(name), std::move(*r));
  return s;
}

IOStatus PowerCutFs::DeleteFile(const std::string& f, const IOOptions& o, IODebugContext* dbg) {
  return Locked([&] {
    IOStatus s = target()->DeleteFile(f, o, dbg);
    if (s.ok()) files_.erase(Normal(f));
    return s;
  });
}

IOStatus PowerCutFs::Truncate(const std::string& f, size_t size, const IOOptions& o,
                              IODebugContext* dbg) {
  return Locked([&] {
    IOStatus s = target()->Truncate(f, size, o, dbg);
    if (auto it = files_.find(Normal(f)); s.ok() && it != files_.end()) {
      it->second.written = size;
      it->second.synced = std::min<uint64_t>(it->second.synced, size);
    }
    return s;
  });
}

IOStatus PowerCutFs::RenameFile(const std::string& from, const std::string& to,
                                const IOOptions& o, IODebugContext* dbg) {
  return Locked([&] {
    IOStatus s = target()->RenameFile(from, to, o, dbg);
    if (!s.ok()) return s;
    auto node = files_.extract(Normal(from));
    files_.erase(Normal(to));
    if (node) {
      node.key() = Normal(to);
      files_.insert(std::move(node));
    }
    return s;
  });
}

IOStatus PowerCutFs::LinkFile(const std::string& from, const std::string& to, const IOOptions& o,
                              IODebugContext* dbg) {
  return Locked([&] {
    IOStatus s = target()->LinkFile(from, to, o, dbg);
    if (auto it = files_.find(Normal(from)); s.ok() && it != files_.end()) {
      FileState state = it->second;
      state.entry_synced = false;  // the new name is a new directory entry
      files_[Normal(to)] = state;
    }
    return s;
  });
}

IOStatus PowerCutFs::CreateDir(const std::string& d, const IOOptions& o, IODebugContext* dbg) {
  return Locked([&] { return target()->CreateDir(d, o, dbg); });
}

IOStatus PowerCutFs::CreateDirIfMissing(const std::string& d, const IOOptions& o,
                                        IODebugContext* dbg) {
  return Locked([&] { return target()->CreateDirIfMissing(d, o, dbg); });
}

IOStatus PowerCutFs::DeleteDir(const std::string& d, const IOOptions& o, IODebugContext* dbg) {
  return Locked([&] { return target()->DeleteDir(d, o, dbg); });
}

}  // namespace zlh::journal
