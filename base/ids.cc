#include "base/ids.h"

#include <array>
#include <cstdint>
#include <mutex>
#include <random>

namespace zlh {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

struct Generator {
  std::mutex mu;
  std::mt19937_64 rng{std::random_device{}()};
  TimeMs last_ms = 0;
  // The 80 random bits as (hi 16, lo 64); incremented within one millisecond to stay monotonic.
  uint16_t hi = 0;
  uint64_t lo = 0;
};

Generator& Gen() {
  static Generator g;
  return g;
}

std::string Encode(uint64_t ms, uint16_t hi, uint64_t lo) {
  // 128 bits: 48 bits time, 80 bits random; 26 base32 digits hold 130 bits, top 2 are zero.
  std::string out(kIdLength, '0');
  // Build the value as two 64-bit halves: high = ms(48) | hi(16), low = lo(64).
  unsigned __int128 v = (static_cast<unsigned __int128>((ms << 16) | hi) << 64) | lo;
  for (size_t i = kIdLength; i-- > 0;) {
    out[i] = kAlphabet[static_cast<size_t>(v & 31)];
    v >>= 5;
  }
  return out;
}

}  // namespace

std::string NewId() { return NewIdAt(NowMs()); }

std::string FirstIdAt(TimeMs t) { return Encode(static_cast<uint64_t>(t), 0, 0); }

std::string NewIdAt(TimeMs t) {
  Generator& g = Gen();
  std::lock_guard lock(g.mu);
  if (t > g.last_ms) {
    g.last_ms = t;
    g.hi = static_cast<uint16_t>(g.rng() & 0x7fff);  // headroom for increments
    g.lo = g.rng();
  } else if (++g.lo == 0) {
    ++g.hi;
  }
  return Encode(static_cast<uint64_t>(g.last_ms), g.hi, g.lo);
}

bool IsValidId(std::string_view id) {
  if (id.size() != kIdLength || id[0] > '7') return false;
  for (char c : id) {
    bool found = false;
    for (const char* a = kAlphabet; *a; ++a) found |= (*a == c);
    if (!found) return false;
  }
  return true;
}

}  // namespace zlh
