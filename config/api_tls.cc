// ValidateApiTls (api_tls.h), with OpenSSL's PEM readers.
#include "config/api_tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

namespace zlh::config {
namespace {

constexpr char kCertField[] = "api.tls.certFile";
constexpr char kKeyField[] = "api.tls.keyFile";

Status Bad(const char* field, const std::string& problem) {
  return InvalidArgument(std::string(field) + ": " + problem);
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// The file's bytes in a memory BIO; kInvalidArgument naming `field` when it cannot be read.
Result<std::unique_ptr<BIO, BioFree>> ReadFile(const char* field, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Bad(field, "'" + path + "' cannot be read: " + std::strerror(errno));
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || BIO_write(bio.get(), text.data(), static_cast<int>(text.size())) !=
                  static_cast<int>(text.size())) {
    return Bad(field, "'" + path + "' cannot be held in memory");
  }
  return bio;
}

// Never asks for a pass phrase (OpenSSL would prompt on the terminal): an encrypted key is refused.
int NoPassphrase(char*, int, int, void*) { return 0; }

}  // namespace

Status ValidateApiTls(const proto::config::ServerTls& tls) {
  if (tls.cert_file().empty() && tls.key_file().empty()) return Status::Ok();
  if (tls.cert_file().empty()) return Bad(kCertField, std::string("required with ") + kKeyField);
  if (tls.key_file().empty()) return Bad(kKeyField, std::string("required with ") + kCertField);
  auto cert_pem = ReadFile(kCertField, tls.cert_file());
  if (!cert_pem.ok()) return cert_pem.status();
  std::unique_ptr<X509, X509Free> cert(
      PEM_read_bio_X509(cert_pem->get(), nullptr, NoPassphrase, nullptr));
  if (!cert) return Bad(kCertField, "'" + tls.cert_file() + "' holds no PEM certificate");
  auto key_pem = ReadFile(kKeyField, tls.key_file());
  if (!key_pem.ok()) return key_pem.status();
  std::unique_ptr<EVP_PKEY, KeyFree> key(
      PEM_read_bio_PrivateKey(key_pem->get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();  // what the failed reads queued is said in the message instead
  if (!key) {
    return Bad(kKeyField, "'" + tls.key_file() + "' holds no unencrypted PEM private key");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return Bad(kKeyField, "'" + tls.key_file() + "' does not match the certificate of " +
                              kCertField + " ('" + tls.cert_file() + "')");
  }
  return Status::Ok();
}

}  // namespace zlh::config
