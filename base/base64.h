// Base64 (RFC 4648, with padding): protobuf bytes in JSON, non-ASCII email subjects.
//
// Thread-safety: a pure function.
#pragma once

#include <string>

namespace zlh {

std::string Base64(const std::string& in);

}  // namespace zlh
