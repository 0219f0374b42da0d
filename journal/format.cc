#include "journal/format.h"

namespace zlh::journal {

namespace {
constexpr std::string_view kMarkerPrefix = "zlh-flow journal ";
}  // namespace

std::string FormatMarker(uint32_t version) {
  return std::string(kMarkerPrefix) + std::to_string(version);
}

std::optional<uint32_t> ParseFormatMarker(std::string_view marker) {
  if (!marker.starts_with(kMarkerPrefix)) return std::nullopt;
  std::string_view digits = marker.substr(kMarkerPrefix.size());
  if (digits.empty() || digits.size() > 9 || digits[0] == '0') return std::nullopt;
  uint32_t version = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    version = version * 10 + static_cast<uint32_t>(c - '0');
  }
  return version;
}

void PutU32(std::string* dst, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) dst->push_back(static_cast<char>(v >> shift));
}

void PutU64(std::string* dst, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) dst->push_back(static_cast<char>(v >> shift));
}

uint32_t GetU32(std::string_view src) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(src[static_cast<size_t>(i)]);
  return v;
}

uint64_t GetU64(std::string_view src) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(src[static_cast<size_t>(i)]);
  return v;
}

std::string EventPrefix(std::string_view stream) {
  std::string k(stream);
  k.push_back('\0');
  return k;
}

std::string EventKey(std::string_view stream, uint64_t seq) {
  std::string k = EventPrefix(stream);
  PutU64(&k, seq);
  return k;
}

uint64_t EventKeySeq(std::string_view key, std::string_view* stream) {
  if (key.size() < 9) return 0;
  if (stream) *stream = key.substr(0, key.size() - 9);
  return GetU64(key.substr(key.size() - 8));
}

std::string StatusIndexPrefix(int status) {
  std::string k(1, kIndexStatus);
  k.push_back(static_cast<char>(status));
  return k;
}

std::string StatusIndexKey(int status, std::string_view id) {
  std::string k = StatusIndexPrefix(status);
  k.append(id);
  return k;
}

std::string DedupIndexKey(std::string_view dedup_key) {
  std::string k(1, kIndexDedup);
  k.append(dedup_key);
  return k;
}

std::string TimerIndexKey(int64_t fire_at_ms, std::string_view id, uint32_t step) {
  std::string k(1, kIndexTimer);
  PutU64(&k, static_cast<uint64_t>(fire_at_ms));
  k.append(id);
  k.push_back('\0');
  PutU32(&k, step);
  return k;
}

std::string DomainKey(char table, std::string_view key) {
  std::string k(1, table);
  k.append(key);
  return k;
}

}  // namespace zlh::journal
