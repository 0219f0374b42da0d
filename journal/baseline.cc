#include "journal/baseline.h"

#include <rocksdb/db.h>

#include <chrono>
#include <memory>

#include "journal/format.h"

namespace zlh::journal {

Result<std::vector<double>> MeasureSyncedPuts(const std::string& dir, size_t count) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) return IOError("cannot open " + dir + ": " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  std::string value(64, 'v');
  std::vector<double> latencies;
  latencies.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    std::string key;
    PutU64(&key, i);
    auto t0 = std::chrono::steady_clock::now();
    s = db->Put(wo, key, value);
    auto t1 = std::chrono::steady_clock::now();
    if (!s.ok()) return IOError("synced put failed: " + s.ToString());
    latencies.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return latencies;
}

}  // namespace zlh::journal
