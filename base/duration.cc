#include "base/duration.h"

#include <charconv>
#include <cstdint>

namespace zlh {

Result<Millis> ParseDuration(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  std::string_view unit = text.substr(digits);
  auto bad = [&] {
    return InvalidArgument("'" + std::string(text) +
                           "' is not a duration (expected e.g. 500ms, 2s, 1m, 1h)");
  };
  if (digits == 0 || digits > 12) return bad();
  int64_t n = 0;
  std::from_chars(text.data(), text.data() + digits, n);
  if (unit == "ms") return Millis(n);
  if (unit == "s") return Millis(n * 1000);
  if (unit == "m") return Millis(n * 60'000);
  if (unit == "h") return Millis(n * 3'600'000);
  return bad();
}

std::string FormatDuration(Millis d) {
  int64_t ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace zlh
