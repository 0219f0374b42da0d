// TlsContext (tls_context.h): Boost.Asio's OpenSSL context with the policy set on its handle.
#include "api/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>

namespace zlh::api {
namespace {

namespace ssl = boost::asio::ssl;

// TLS 1.2's suites: Mozilla's "intermediate" list less the DHE ones (no DH parameters to keep):
// ECDHE key exchange, AEAD ciphers only.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

Status Refused(const std::string& what, const boost::system::error_code& ec) {
  ERR_clear_error();
  return InvalidArgument(what + ": " + ec.message());
}

Result<std::shared_ptr<ssl::context>> MakeContext(const std::string& cert_file,
                                                  const std::string& key_file) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    ERR_clear_error();
    return Internal("OpenSSL refused the TLS policy (TLS 1.2+, ECDHE AEAD suites)");
  }
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // Never a pass phrase prompt on the terminal: an encrypted key is refused.
  context->set_password_callback(
      [](std::size_t, ssl::context::password_purpose) { return std::string(); });
  boost::system::error_code ec;
  context->use_certificate_chain_file(cert_file, ec);
  if (ec) return Refused("certificate '" + cert_file + "'", ec);
  context->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) return Refused("private key '" + key_file + "'", ec);
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return InvalidArgument("private key '" + key_file + "' does not match the certificate '" +
                           cert_file + "'");
  }
  return context;
}

}  // namespace

TlsContext::TlsContext(std::shared_ptr<ssl::context> context) : context_(std::move(context)) {}

Result<std::shared_ptr<TlsContext>> TlsContext::Load(const std::string& cert_file,
                                                     const std::string& key_file) {
  auto context = MakeContext(cert_file, key_file);
  if (!context.ok()) return context.status();
  return std::make_shared<TlsContext>(std::move(*context));
}

Status TlsContext::Replace(const std::string& cert_file, const std::string& key_file) {
  auto context = MakeContext(cert_file, key_file);
  if (!context.ok()) return context.status();
  std::lock_guard lock(mu_);
  context_ = std::move(*context);
  return Status::Ok();
}

void TlsContext::Adopt(const TlsContext& loaded) {
  std::shared_ptr<ssl::context> context = loaded.current();
  std::lock_guard lock(mu_);
  context_ = std::move(context);
}

std::shared_ptr<ssl::context> TlsContext::current() const {
  std::lock_guard lock(mu_);
  return context_;
}

}  // namespace zlh::api
