// IPv4 addresses and CIDR blocks as plain values: parsing (dotted quads only, no leading zeros),
// formatting and containment, for the address pools (SPEC §9.1). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zlh {

// "10.20.1.10" → 0x0A14010A; nullopt for anything that is not four decimal octets.
std::optional<uint32_t> ParseIpv4(std::string_view text);
// 0x0A14010A → "10.20.1.10".
std::string FormatIpv4(uint32_t address);

struct Cidr {
  uint32_t network = 0;  // the address with the host bits cleared
  int prefix = 0;        // 0..32

  bool Contains(uint32_t address) const;
};
// "10.20.0.0/22"; nullopt when malformed or when host bits are set ("10.20.0.1/22").
std::optional<Cidr> ParseCidr(std::string_view text);

}  // namespace zlh
