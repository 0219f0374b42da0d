#include "journal/testing.h"

#include <rocksdb/db.h>

#include <memory>
#include <vector>

#include "journal/format.h"

namespace zlh::journal::testing {

Status RewriteFormatMarker(const std::string& dir, const std::string& marker) {
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies({}, dir, &names);
  if (!s.ok()) return IOError(s.ToString());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open({}, dir, cfs, &handles, &raw);
  if (!s.ok()) return IOError(s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  s = db->Put({}, kMetaFormat, marker);
  for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
  if (s.ok()) s = db->Close();
  return s.ok() ? Status::Ok() : IOError(s.ToString());
}

}  // namespace zlh::journal::testing
