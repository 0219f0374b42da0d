// TestCa: a throw-away certificate authority made with the openssl command in a temporary
// directory, and a server certificate it signed for 127.0.0.1 (subjectAltName IP:127.0.0.1), as
// an operator's private CA would make it; plus what tests need to see HTTPS fail: a second CA
// that did not sign it and a key that belongs to no certificate. EC P-256 keys, valid one day.
// Test-only.
#pragma once

#include <cstdlib>
#include <string>

#include "base/temp_dir.h"

namespace zlh {

class TestCa {
 public:
  TestCa() {
    made_ = MakeCa("ca") && MakeCa("other-ca") && MakeKey("server.key") && MakeKey("stray.key") &&
            Run("openssl req -new -key " + Path("server.key") + " -subj /CN=127.0.0.1 -out " +
                Path("server.csr")) &&
            Run("printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > " +
                Path("server.ext")) &&
            Run("openssl x509 -req -in " + Path("server.csr") + " -CA " + Path("ca.pem") +
                " -CAkey " + Path("ca.key") + " -CAcreateserial -days 1 -extfile " +
                Path("server.ext") + " -out " + Path("server.pem"));
  }

  bool made() const { return made_; }                // false when openssl failed
  std::string ca() const { return Path("ca.pem"); }  // the CA's certificate, for clients to trust
  std::string other_ca() const { return Path("other-ca.pem"); }  // a CA that signed nothing here
  std::string cert() const { return Path("server.pem"); }        // the server's certificate
  std::string key() const { return Path("server.key"); }         // ... and its key
  std::string stray_key() const { return Path("stray.key"); }    // a key of no certificate
  std::string Path(const std::string& name) const { return dir_.Sub(name); }

 private:
  static bool Run(const std::string& command) {
    return std::system((command + " > /dev/null 2>&1").c_str()) == 0;
  }
  bool MakeKey(const std::string& name) {
    return Run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + Path(name));
  }
  bool MakeCa(const std::string& name) {
    return MakeKey(name + ".key") && Run("openssl req -x509 -new -key " + Path(name + ".key") +
                                         " -days 1 -subj /CN=zlh-" + name +
                                         " -addext basicConstraints=critical,CA:TRUE -addext "
                                         "keyUsage=critical,keyCertSign,cRLSign -out " +
                                         Path(name + ".pem"));
  }

  TempDir dir_;
  bool made_ = false;
};

}  // namespace zlh
