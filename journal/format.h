// The journal's on-disk layout: column families, key encodings and the format version. Shared by
// the writer (journal.cc) and every reader (zlh-journal); docs/journal-format.md is the prose spec.
// Integers in keys are big-endian so that byte order is numeric order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zlh::journal {

// Bump when a change makes older builds misread the database; Open refuses a newer one.
inline constexpr uint32_t kFormatVersion = 1;

// The format marker stored at kMetaFormat: "zlh-flow journal <version>".
std::string FormatMarker(uint32_t version);
// The version a marker names; nullopt when it is not a well-formed marker (garbage, version 0).
std::optional<uint32_t> ParseFormatMarker(std::string_view marker);

// Column families. "default" holds only the meta keys below.
inline constexpr char kEventsCf[] = "events";        // stream id \0 seq → proto.Event
inline constexpr char kSummariesCf[] = "summaries";  // workflow id → proto.WorkflowSummary
inline constexpr char kIndexCf[] = "index";          // see the Index* encoders
inline constexpr char kDomainCf[] = "domain";        // table byte, key → table-defined value

// Meta keys in the default column family.
inline constexpr char kMetaFormat[] = "zlh.format";         // "zlh-flow journal <version>"
inline constexpr char kMetaOpenCount[] = "zlh.open_count";  // u64 BE, +1 at every writable open

// Prefix bytes of the index column family.
inline constexpr char kIndexStatus = 'S';  // 'S' status(u8) id → ""
inline constexpr char kIndexDedup = 'D';   // 'D' dedup key → workflow id
inline constexpr char kIndexTimer = 'T';   // 'T' fire_at_ms(u64) id \0 step(u32) → ""

void PutU32(std::string* dst, uint32_t v);
void PutU64(std::string* dst, uint64_t v);
uint32_t GetU32(std::string_view src);  // src.size() >= 4
uint64_t GetU64(std::string_view src);  // src.size() >= 8

// events: stream id, a zero byte, the sequence number. Stream ids never contain a zero byte.
std::string EventKey(std::string_view stream, uint64_t seq);
std::string EventPrefix(std::string_view stream);  // every event of one stream
// The seq of an event key; the stream id via *stream when non-null.
uint64_t EventKeySeq(std::string_view key, std::string_view* stream = nullptr);

std::string StatusIndexKey(int status, std::string_view id);
std::string StatusIndexPrefix(int status);
std::string DedupIndexKey(std::string_view dedup_key);
std::string TimerIndexKey(int64_t fire_at_ms, std::string_view id, uint32_t step);

// Domain tables: one byte names the table, the rest is the table's own key.
std::string DomainKey(char table, std::string_view key);

}  // namespace zlh::journal
