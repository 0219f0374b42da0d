// TlsContext: the certificate and key an HttpServer serves HTTPS with (SPEC §11), held as an
// OpenSSL server context under zlh-flow's policy: TLS 1.2 or newer; for TLS 1.2 only forward-secret
// AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305), TLS 1.3's suites as OpenSSL has them; no
// compression, no renegotiation. Replace (or Load, then Adopt) swaps in another certificate (a
// renewed one) for the connections accepted after it; a connection keeps the context it started
// with.
//
// Thread-safety: current(), Replace and Adopt may be called from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "base/status.h"

namespace boost::asio::ssl {
class context;
}

namespace zlh::api {

class TlsContext {
 public:
  // Loads `cert_file` (PEM: the certificate, then any intermediates) and `key_file` (PEM, not
  // encrypted). kInvalidArgument naming the file when one cannot be read or used, or when the key
  // does not match the certificate.
  static Result<std::shared_ptr<TlsContext>> Load(const std::string& cert_file,
                                                  const std::string& key_file);

  // Loads the files anew for the connections accepted from now on; on error (as Load) the current
  // certificate stays.
  Status Replace(const std::string& cert_file, const std::string& key_file);
  // Serves `loaded`'s certificate to the connections accepted from now on (a reload that loaded
  // and checked it first, with the rest of its configuration). Cannot fail.
  void Adopt(const TlsContext& loaded);

  // The context a new connection is made with; the caller keeps it for the connection's life.
  std::shared_ptr<boost::asio::ssl::context> current() const;

  explicit TlsContext(std::shared_ptr<boost::asio::ssl::context> context);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> context_;
};

}  // namespace zlh::api
