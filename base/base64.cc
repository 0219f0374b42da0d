#include "base/base64.h"

#include <cstdint>

namespace zlh {
namespace {

uint32_t Byte(const std::string& s, size_t i) { return static_cast<uint8_t>(s[i]); }

}  // namespace

std::string Base64(const std::string& in) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (Byte(in, i) << 16) | (Byte(in, i + 1) << 8) | Byte(in, i + 2);
    for (int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(v >> shift) & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = Byte(in, i) << 16;
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (Byte(in, i) << 16) | (Byte(in, i + 1) << 8);
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

}  // namespace zlh
