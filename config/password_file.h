// A password kept in a file of its own (email.passwordFile, redis.passwordFile): its first line,
// so that the secret is neither in the config file nor on a command line. Internal to config/.
//
// Thread-safety: a pure function but for the file's read.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace zlh::config {

// The first line of `path` (a trailing CR dropped). kInvalidArgument "FIELD: 'PATH' cannot be
// read" or "... is empty", naming `field` and never the file's content.
Result<std::string> ReadPasswordFile(std::string_view field, const std::string& path);

}  // namespace zlh::config
