// The api.tls section of the configuration (SPEC §11): the certificate and key the API serves
// HTTPS with, checked at load so that a start (or zlhd --check-config) is refused with a message
// naming the field — a file missing or unreadable, not PEM, a key that is encrypted or that does
// not belong to the certificate. Internal to config/: config.cc calls it; api/tls_context.h loads
// the files for serving.
//
// Thread-safety: a pure function but for the files' reads.
#pragma once

#include "base/status.h"
#include "proto/config.pb.h"

namespace zlh::config {

// OK when neither file is set (plain HTTP) or both are usable together; kInvalidArgument naming
// the first bad field ("api.tls.keyFile: does not match api.tls.certFile") otherwise.
Status ValidateApiTls(const proto::config::ServerTls& tls);

}  // namespace zlh::config
