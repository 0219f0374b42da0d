// zlhd's API over HTTPS (SPEC §11), on a real zlh-sim, with a CA the test makes with openssl: with
// api.tls set, the Portal's create and read go over HTTPS, the certificate verified against that
// CA; plain HTTP to the port gets no answer; a client that does not trust the CA refuses the
// server; TLS 1.1 and non-AEAD suites are refused; a key file that is missing or belongs to another
// certificate refuses the start (exit 2) and zlhd --check-config (exit 2), naming the field; a
// renewed certificate is served to new connections after SIGHUP, a broken one refused.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/temp_dir.h"
#include "tests/daemon_process.h"
#include "tests/http_fetch.h"
#include "tests/test_ca.h"
#include "tests/zlhd_fleet.h"

namespace zlh {
namespace {

using namespace std::chrono_literals;

// The test config with api.tls naming `cert` and `key`.
std::string TlsConfig(const std::string& cert, const std::string& key) {
  return ControllerConfig(
      "", R"("api": {"tls": {"certFile": ")" + cert + R"(", "keyFile": ")" + key + R"("}})");
}

class ApiTlsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(ca_.made()) << "openssl could not make the test CA"; }

  // Starts zlhd with api.tls set, calling it over HTTPS trusting the test CA.
  void StartHttps() {
    zlhd_ = std::make_unique<ZlhdOnSim>(tmp_, TlsConfig(ca_.cert(), ca_.key()));
    zlhd_->UseHttps(ca_.ca());
    ASSERT_TRUE(zlhd_->Start());
  }

  TestCa ca_;
  TempDir tmp_;
  std::unique_ptr<ZlhdOnSim> zlhd_;
};

TEST_F(ApiTlsTest, ThePortalCreatesAndReadsAServerOverHttps) {
  StartHttps();
  EXPECT_NE(ReadFile(zlhd_->log()).find("listening on https://" + zlhd_->addr()), std::string::npos)
      << ReadFile(zlhd_->log());
  Fetched created = zlhd_->Create("c-1", "nonce-1", "secure");
  ASSERT_EQ(created.status, 202) << created.error << created.body;
  boost::json::object answer = ZlhdOnSim::Body(created);
  EXPECT_EQ(zlhd_->AwaitWorkflow(std::string(answer["workflowId"].as_string())), "completed");
  Fetched read = zlhd_->Api(
      "GET", "/api/servers/" + std::string(answer["serverId"].as_string()) + "?customerId=c-1");
  ASSERT_EQ(read.status, 200) << read.error << read.body;
  EXPECT_EQ(ZlhdOnSim::Body(read)["status"].as_string(), "running");
  EXPECT_EQ(zlhd_->Stop(), 0);
}

// What a plain-HTTP client sees: the connection closed, no answer (curl: "Empty reply from
// server"); the HTTPS port keeps serving.
TEST_F(ApiTlsTest, PlainHttpToTheHttpsPortGetsNoAnswer) {
  StartHttps();
  Fetched plain = Fetch("GET", "http://" + zlhd_->addr() + "/healthz");
  EXPECT_EQ(plain.status, 0) << plain.body;
  EXPECT_EQ(plain.code, CURLE_GOT_NOTHING) << plain.error;
  EXPECT_EQ(zlhd_->Api("GET", "/healthz").status, 200);
}

// A client that does not trust the test CA — another CA, or the system's — refuses the server.
TEST_F(ApiTlsTest, AClientThatDoesNotTrustTheCaFailsVerification) {
  StartHttps();
  for (const std::string& ca : {ca_.other_ca(), std::string()}) {
    Fetched f = Fetch("GET", "https://" + zlhd_->addr() + "/healthz", "", {}, 20'000, ca);
    EXPECT_EQ(f.status, 0) << "trusting '" << ca << "'";
    EXPECT_EQ(f.code, CURLE_PEER_FAILED_VERIFICATION) << f.error;
  }
  EXPECT_EQ(zlhd_->Api("GET", "/healthz").status, 200);
}

// What the shell command `command` writes on its standard output.
std::string Output(const std::string& command) {
  std::string said;
  FILE* out = popen(command.c_str(), "r");
  if (!out) return "";
  for (char buf[4096]; size_t n = fread(buf, 1, sizeof buf, out);) said.append(buf, n);
  pclose(out);
  return said;
}

// What `openssl s_client ARGS` (the system's OpenSSL configuration left out) says of a handshake
// with `addr`: its "Cipher is ..." line.
std::string Handshake(const std::string& addr, const std::string& args) {
  std::string said = Output("OPENSSL_CONF=/dev/null openssl s_client -connect " + addr + " " +
                            args + " < /dev/null 2>&1");
  size_t at = said.find("Cipher is ");
  return at == std::string::npos ? said : said.substr(at, said.find('\n', at) - at);
}

// The policy is zlhd's own: with the system's OpenSSL configuration (which on Debian already asks
// for TLS 1.2) left out of zlhd and of the client, a TLS 1.2 suite without AEAD is refused, and
// TLS 1.1 (which OpenSSL 3's default security level refuses as well); TLS 1.2 gets an ECDHE AEAD
// suite.
TEST_F(ApiTlsTest, TheTlsPolicyIsTls12OrNewerWithEcdheAeadSuites) {
  ASSERT_EQ(setenv("OPENSSL_CONF", "/dev/null", 1), 0);  // for the zlhd started now
  StartHttps();
  unsetenv("OPENSSL_CONF");
  const std::string& addr = zlhd_->addr();
  EXPECT_EQ(Handshake(addr, "-tls1_1 -cipher DEFAULT@SECLEVEL=0"), "Cipher is (NONE)");
  EXPECT_EQ(Handshake(addr, "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256"), "Cipher is (NONE)");
  EXPECT_EQ(Handshake(addr, "-tls1_2").rfind("Cipher is ECDHE-ECDSA-AES", 0), 0u)
      << Handshake(addr, "-tls1_2");
  EXPECT_EQ(Handshake(addr, "-tls1_3"), "Cipher is TLS_AES_256_GCM_SHA384");
}

// The serial of the certificate a new connection to `addr` is served ("serial=05E1"), as
// `openssl s_client` and `openssl x509` read it.
std::string ServedSerial(const std::string& addr, const std::string& ca) {
  std::string said = Output("openssl s_client -connect " + addr + " -CAfile " + ca +
                            " < /dev/null 2>/dev/null | openssl x509 -noout -serial 2>&1");
  while (!said.empty() && said.back() == '\n') said.pop_back();
  return said;
}

// A renewal, written over the files api.tls names as certbot would: after SIGHUP new connections
// get it (same process, no restart). A broken file in its place first is refused by the reload,
// which says why, and the running certificate stays.
TEST_F(ApiTlsTest, ASighupServesARenewedCertificateToNewConnections) {
  StartHttps();
  const std::string first = ServedSerial(zlhd_->addr(), ca_.ca());
  ASSERT_EQ(first.rfind("serial=", 0), 0u) << first;
  std::string renewed = ca_.Path("renewed.pem");
  ASSERT_EQ(std::system(("openssl x509 -req -in " + ca_.Path("server.csr") + " -CA " + ca_.ca() +
                         " -CAkey " + ca_.Path("ca.key") + " -set_serial 0x5E1 -days 1 -extfile " +
                         ca_.Path("server.ext") + " -out " + renewed + " > /dev/null 2>&1")
                            .c_str()),
            0);

  std::ofstream(ca_.cert(), std::ios::trunc) << "-----BEGIN CERTIFICATE-----\nbroken\n";
  std::string refused = zlhd_->Reload(1);
  EXPECT_NE(refused.find("reload refused, the running configuration and tokens are kept: config " +
                         zlhd_->config() + ": api.tls.certFile: '" + ca_.cert() +
                         "' holds no PEM certificate"),
            std::string::npos)
      << refused;
  EXPECT_EQ(ServedSerial(zlhd_->addr(), ca_.ca()), first);

  std::filesystem::copy_file(renewed, ca_.cert(),
                             std::filesystem::copy_options::overwrite_existing);
  std::string applied = zlhd_->Reload(2);
  EXPECT_NE(applied.find("certificate loaded again"), std::string::npos) << applied;
  EXPECT_EQ(ServedSerial(zlhd_->addr(), ca_.ca()), "serial=05E1");
  EXPECT_EQ(zlhd_->Api("GET", "/healthz").status, 200);
  EXPECT_EQ(zlhd_->Stop(), 0);
}

// A bad api.tls refuses the start and --check-config with exit 2, naming the field, and listens on
// nothing.
TEST_F(ApiTlsTest, AMissingOrMismatchedKeyRefusesTheStartNamingTheField) {
  struct Case {
    std::string key, says;
  };
  for (const Case& c : {Case{tmp_.Sub("absent.key"),
                             "api.tls.keyFile: '" + tmp_.Sub("absent.key") + "' cannot be read"},
                        Case{ca_.stray_key(), "api.tls.keyFile: '" + ca_.stray_key() +
                                                  "' does not match the certificate"}}) {
    std::string config = tmp_.Sub("bad.json"), log = tmp_.Sub("bad.log"), out = tmp_.Sub("bad.out");
    std::ofstream(config) << TlsConfig(ca_.cert(), c.key);
    {
      Daemon zlhd({"--config", config, "--data", tmp_.Sub("bad-data"), "--listen", "127.0.0.1:0",
                   "--fleet", "sim"},
                  log);
      EXPECT_EQ(zlhd.Wait(30s), 2) << ReadFile(log);
    }
    EXPECT_NE(ReadFile(log).find(c.says), std::string::npos) << ReadFile(log);
    EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("bad-data/zlhd.addr")));
    {
      Daemon check({"--check-config", "--config", config, "--fleet", "sim"}, log, out);
      EXPECT_EQ(check.Wait(30s), 2) << ReadFile(out);
    }
    EXPECT_EQ(ReadFile(out).rfind("FAIL config: ", 0), 0u) << ReadFile(out);
    EXPECT_NE(ReadFile(out).find(c.says), std::string::npos) << ReadFile(out);
  }
}

}  // namespace
}  // namespace zlh
