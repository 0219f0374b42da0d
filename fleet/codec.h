// How the fleet tables read their protobuf records back: one record, or every record of a table,
// with kCorruption for one that cannot be parsed. Internal to fleet/ (tables.cc, outbox.cc).
// Thread-safety: free functions over a Journal (any thread) or a Txn (its writer thread).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "journal/format.h"
#include "journal/journal.h"

namespace zlh::fleet::codec {

// The record `raw` holds, nullopt when it is absent.
template <typename Message>
Result<std::optional<Message>> Decode(Result<std::optional<std::string>> raw,
                                      std::string_view what) {
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<Message>();
  Message m;
  if (!m.ParseFromString(**raw)) {
    return Corruption("unreadable " + std::string(what) + " record");
  }
  return std::optional<Message>(std::move(m));
}

// Every record of `table` in `source` (a Journal or a Txn), in key order, decoded; kCorruption at
// the first that cannot be.
template <typename Message, typename Source>
Result<std::vector<Message>> DecodeAll(Source& source, char table, std::string_view what) {
  std::vector<Message> out;
  Status bad;
  auto visit = [&](std::string_view, std::string_view v) {
    Message m;
    if (!m.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      bad = Corruption("unreadable " + std::string(what) + " record");
      return false;
    }
    out.push_back(std::move(m));
    return true;
  };
  ZLH_RETURN_IF_ERROR(source.Scan(journal::Cf::kDomain, journal::DomainKey(table, ""), visit));
  ZLH_RETURN_IF_ERROR(bad);
  return out;
}

}  // namespace zlh::fleet::codec
