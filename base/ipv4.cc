#include "base/ipv4.h"

#include <charconv>

namespace zlh {
namespace {

uint32_t Mask(int prefix) { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }

}  // namespace

std::optional<uint32_t> ParseIpv4(std::string_view text) {
  uint32_t out = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (text.empty() || text.front() != '.') return std::nullopt;
      text.remove_prefix(1);
    }
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0 || digits > 3 || (digits > 1 && text[0] == '0')) return std::nullopt;
    unsigned value = 0;
    std::from_chars(text.data(), text.data() + digits, value);
    if (value > 255) return std::nullopt;
    out = out << 8 | value;
    text.remove_prefix(digits);
  }
  if (!text.empty()) return std::nullopt;
  return out;
}

std::string FormatIpv4(uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string(address >> 16 & 255) + "." +
         std::to_string(address >> 8 & 255) + "." + std::to_string(address & 255);
}

bool Cidr::Contains(uint32_t address) const { return (address & Mask(prefix)) == network; }

std::optional<Cidr> ParseCidr(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = ParseIpv4(text.substr(0, slash));
  std::string_view bits = text.substr(slash + 1);
  int prefix = -1;
  if (bits.empty() || bits.size() > 2 || (bits.size() > 1 && bits[0] == '0')) return std::nullopt;
  auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
  if (!address || ec != std::errc() || end != bits.data() + bits.size() || prefix < 0 ||
      prefix > 32) {
    return std::nullopt;
  }
  if ((*address & ~Mask(prefix)) != 0) return std::nullopt;
  return Cidr{*address, prefix};
}

}  // namespace zlh
