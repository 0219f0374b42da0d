// The email section of the configuration (SPEC §10): its validation, naming the field
// ("email.smtpUrl: ..."), its durations and the password read from its file. Internal to
// config/: config.cc calls it.
//
// Thread-safety: pure functions, but for the read of email.passwordFile.
#pragma once

#include "base/duration.h"
#include "base/status.h"
#include "proto/config.pb.h"

namespace zlh::config {

struct EmailSettings {
  Millis fallback_after{5 * 60'000};
  Millis timeout{30'000};
  std::string password;  // email.passwordFile's first line; "" when none is configured
};

// kInvalidArgument naming the first bad field of `email`; an absent section is valid (no email).
Result<EmailSettings> ValidateEmail(const proto::config::Email& email);

}  // namespace zlh::config
