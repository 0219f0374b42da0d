// HttpServer over real loopback connections, in plain HTTP and in HTTPS (a test CA made with
// openssl): decoding, limits (body, headers, handshake), 400 for a malformed request, no answer to
// plain HTTP on the HTTPS port, the connection cap, a graceful Stop, a replaced certificate.
#include "api/http_server.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "api/tls_context.h"
#include "tests/test_ca.h"

namespace zlh::api {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Reply {
  long status = 0;
  std::string body;
  std::string headers;
};

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// How a request goes: plain HTTP, or HTTPS trusting `ca` with `tls_version` (CURLOPT_SSLVERSION).
struct Via {
  std::string ca;  // "": plain HTTP
  long tls_version = CURL_SSLVERSION_DEFAULT;
};

// A blocking request over real HTTP(S) with libcurl.
Reply Fetch(uint16_t port, const std::string& method, const std::string& path,
            const std::string& body = "", const std::vector<std::string>& headers = {},
            const Via& via = {}) {
  Reply r;
  CURL* curl = curl_easy_init();
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  if (list) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  std::string scheme = via.ca.empty() ? "http" : "https";
  std::string url = scheme + "://127.0.0.1:" + std::to_string(port) + path;
  if (!via.ca.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, via.ca.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, via.tls_version);
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (!body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_cleanup(curl);
  curl_slist_free_all(list);
  return r;
}

// A plain TCP connection to the server, for what an HTTP client would not send; -1 on failure.
int RawConnect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// A server on its own io thread, echoing what it was asked.
class HttpServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}) {
    options.port = 0;
    server_ = std::make_unique<HttpServer>(io_, options, [this](const Request& req) -> Task<Response> {
      ++requests_;
      if (req.path == "/slow") {
        asio::steady_timer t(io_, 300ms);
        co_await t.async_wait(asio::use_awaitable);
      }
      Response r;
      r.body = req.method + " " + req.path + " q=" + (req.query.count("q") ? req.query.at("q") : "") +
               " body=" + std::to_string(req.body.size()) + " ct=" + req.Header("content-type");
      r.content_type = "text/plain";
      co_return r;
    });
    auto port = server_->Listen();
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    port_ = *port;
    server_->Start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (thread_.joinable()) {
      Stop(100ms);
      thread_.join();
    }
  }
  void Stop(Millis deadline) {
    asio::co_spawn(io_, [this, deadline]() -> Task<void> {
      co_await server_->Stop(deadline);
      io_.stop();
    }, asio::detached);
  }

  asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::atomic<int> requests_{0};
};

TEST_F(HttpServerTest, ServesRequestsWithDecodedPathAndQuery) {
  Start();
  Reply r = Fetch(port_, "POST", "/api/x%20y?q=a%2Bb+c", "{\"k\":1}");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "POST /api/x y q=a+b c body=7 ct=application/x-www-form-urlencoded");
}

TEST_F(HttpServerTest, OversizeBodyIs413AndNeverReachesTheHandler) {
  ServerOptions o;
  o.body_limit = 1024;
  Start(o);
  Reply r = Fetch(port_, "POST", "/api/x", std::string(4096, 'x'));
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("payload_too_large"), std::string::npos);
  EXPECT_EQ(requests_.load(), 0);
  EXPECT_EQ(Fetch(port_, "POST", "/api/x", std::string(1024, 'x')).status, 200);
}

TEST_F(HttpServerTest, AnOversizeBodyIsAskedAboutItsCredentialsBefore413) {
  ServerOptions o;
  o.body_limit = 1024;
  o.refuse_before_size = [](const Request& headers) -> std::optional<Response> {
    if (headers.Header("authorization") == "Bearer good") return std::nullopt;
    Response r;
    r.status = 401;
    return r;
  };
  Start(o);
  // Declared length, then a chunked body: the credentials are judged first either way.
  EXPECT_EQ(Fetch(port_, "POST", "/api/x", std::string(4096, 'x')).status, 401);
  EXPECT_EQ(Fetch(port_, "POST", "/api/x", std::string(4096, 'x'), {"Authorization: Bearer good"}).status, 413);
  EXPECT_EQ(Fetch(port_, "POST", "/api/x", std::string(4096, 'x'), {"Transfer-Encoding: chunked"}).status, 401);
  EXPECT_EQ(Fetch(port_, "POST", "/api/x", std::string(4096, 'x'),
                  {"Transfer-Encoding: chunked", "Authorization: Bearer good"}).status, 413);
  EXPECT_EQ(requests_.load(), 0);
}

TEST_F(HttpServerTest, SlowHeadersAreCutOffAtTheTimeout) {
  ServerOptions o;
  o.header_timeout = Millis(200);
  Start(o);
  int fd = RawConnect(port_);
  ASSERT_GE(fd, 0);
  const char partial[] = "GET / HTTP/1.1\r\nHost: x\r\n";  // never finished
  ASSERT_GT(write(fd, partial, sizeof partial - 1), 0);
  char buf[16];
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto t0 = std::chrono::steady_clock::now();
  ssize_t got = read(fd, buf, sizeof buf);  // the server closes: EOF
  EXPECT_EQ(got, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  close(fd);
  EXPECT_EQ(requests_.load(), 0);
}

TEST_F(HttpServerTest, MalformedRequestIs400) {
  Start();
  int fd = RawConnect(port_);
  ASSERT_GE(fd, 0);
  const char junk[] = "NOT HTTP AT ALL\r\n\r\n";
  ASSERT_GT(write(fd, junk, sizeof junk - 1), 0);
  char buf[256] = {};
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ssize_t got = read(fd, buf, sizeof buf - 1);
  close(fd);
  ASSERT_GT(got, 0);
  EXPECT_EQ(std::string(buf).rfind("HTTP/1.1 400", 0), 0u) << buf;
}

TEST_F(HttpServerTest, StopLetsAnInFlightRequestFinish) {
  Start();
  auto slow = std::async(std::launch::async, [&] { return Fetch(port_, "GET", "/slow"); });
  auto until = std::chrono::steady_clock::now() + 10s;
  while (requests_.load() == 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  Stop(5000ms);
  Reply r = slow.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.rfind("GET /slow", 0), 0u);
  thread_.join();
  EXPECT_EQ(Fetch(port_, "GET", "/").status, 0);  // no longer listening
}

TEST_F(HttpServerTest, ConnectionsBeyondTheCapGet503) {
  ServerOptions o;
  o.max_connections = 1;
  Start(o);
  auto slow = std::async(std::launch::async, [&] { return Fetch(port_, "GET", "/slow"); });
  auto until = std::chrono::steady_clock::now() + 10s;
  while (requests_.load() == 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(Fetch(port_, "GET", "/").status, 503);
  EXPECT_EQ(slow.get().status, 200);
}

// The same server with api.tls's certificate: HTTPS only.
class HttpsServerTest : public HttpServerTest {
 protected:
  static void SetUpTestSuite() { ca_ = new TestCa(); }
  static void TearDownTestSuite() {
    delete ca_;
    ca_ = nullptr;
  }
  void StartTls(ServerOptions options = {}) {
    ASSERT_TRUE(ca_->made()) << "openssl could not make the test CA";
    auto tls = TlsContext::Load(ca_->cert(), ca_->key());
    ASSERT_TRUE(tls.ok()) << tls.status().ToString();
    tls_ = *tls;
    options.tls = tls_;
    Start(options);
  }
  static Via Trusting(long tls_version = CURL_SSLVERSION_DEFAULT) {
    return Via{ca_->ca(), tls_version};
  }

  static TestCa* ca_;
  std::shared_ptr<TlsContext> tls_;
};
TestCa* HttpsServerTest::ca_ = nullptr;

TEST_F(HttpsServerTest, ServesTls12AndTls13ClientsThatTrustTheCa) {
  StartTls();
  // Exactly one version each: CURLOPT_SSLVERSION's minimum | its maximum.
  for (long version : {long{CURL_SSLVERSION_TLSv1_2} | long{CURL_SSLVERSION_MAX_TLSv1_2},
                       long{CURL_SSLVERSION_TLSv1_3} | long{CURL_SSLVERSION_MAX_TLSv1_3}}) {
    Reply r = Fetch(port_, "POST", "/api/x?q=1", "{}", {"Content-Type: application/json"},
                    Trusting(version));
    EXPECT_EQ(r.status, 200) << "CURLOPT_SSLVERSION " << version;
    EXPECT_EQ(r.body, "POST /api/x q=1 body=2 ct=application/json");
  }
  EXPECT_EQ(requests_.load(), 2);
}

TEST_F(HttpsServerTest, AClientThatDoesNotTrustTheCaGetsNothing) {
  StartTls();
  EXPECT_EQ(Fetch(port_, "GET", "/", "", {}, Via{ca_->other_ca()}).status, 0);
  EXPECT_EQ(requests_.load(), 0);
}

// Plain HTTP to the HTTPS port: the handshake fails on the first bytes and the connection is
// closed without a byte back (OpenSSL sends no alert to what it recognises as an HTTP request).
TEST_F(HttpsServerTest, PlainHttpIsDisconnectedWithoutAnAnswer) {
  StartTls();
  EXPECT_EQ(Fetch(port_, "GET", "/").status, 0);
  int fd = RawConnect(port_);
  ASSERT_GE(fd, 0);
  const char request[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_GT(write(fd, request, sizeof request - 1), 0);
  char buf[64];
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_EQ(read(fd, buf, sizeof buf), 0) << "expected the connection closed, no answer";
  close(fd);
  EXPECT_EQ(requests_.load(), 0);
}

TEST_F(HttpsServerTest, AStalledHandshakeIsCutOffAtTheTimeout) {
  ServerOptions o;
  o.handshake_timeout = Millis(200);
  StartTls(o);
  int fd = RawConnect(port_);  // never says hello
  ASSERT_GE(fd, 0);
  char buf[16];
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(read(fd, buf, sizeof buf), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  close(fd);
}

TEST_F(HttpsServerTest, OversizeBodyIs413) {
  ServerOptions o;
  o.body_limit = 1024;
  StartTls(o);
  Reply r = Fetch(port_, "POST", "/api/x", std::string(4096, 'x'), {}, Trusting());
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("payload_too_large"), std::string::npos);
  EXPECT_EQ(requests_.load(), 0);
}

TEST_F(HttpsServerTest, ConnectionsBeyondTheCapGet503) {
  ServerOptions o;
  o.max_connections = 1;
  StartTls(o);
  auto slow = std::async(std::launch::async,
                         [&] { return Fetch(port_, "GET", "/slow", "", {}, Trusting()); });
  auto until = std::chrono::steady_clock::now() + 10s;
  while (requests_.load() == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(Fetch(port_, "GET", "/", "", {}, Trusting()).status, 503);
  EXPECT_EQ(slow.get().status, 200);
}

TEST_F(HttpsServerTest, StopLetsAnInFlightRequestFinish) {
  StartTls();
  auto slow = std::async(std::launch::async,
                         [&] { return Fetch(port_, "GET", "/slow", "", {}, Trusting()); });
  auto until = std::chrono::steady_clock::now() + 10s;
  while (requests_.load() == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  Stop(5000ms);
  Reply r = slow.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.rfind("GET /slow", 0), 0u);
  thread_.join();
  EXPECT_EQ(Fetch(port_, "GET", "/", "", {}, Trusting()).status, 0);  // no longer listening
}

// A renewed certificate (here: the stray key, certified by the other CA) serves the connections
// accepted after Replace; a bad one is refused and the current one stays.
TEST_F(HttpsServerTest, AReplacedCertificateServesNewConnections) {
  StartTls();
  ASSERT_EQ(Fetch(port_, "GET", "/", "", {}, Trusting()).status, 200);
  std::string csr = ca_->Path("renewed.csr"), cert = ca_->Path("renewed.pem");
  std::string ext = ca_->Path("server.ext");
  ASSERT_EQ(
      std::system(("openssl req -new -key " + ca_->stray_key() + " -subj /CN=127.0.0.1 -out " +
                   csr + " && openssl x509 -req -in " + csr + " -CA " + ca_->other_ca() +
                   " -CAkey " + ca_->Path("other-ca.key") + " -CAcreateserial -days 1 -extfile " +
                   ext + " -out " + cert + " > /dev/null 2>&1")
                      .c_str()),
      0);
  EXPECT_FALSE(tls_->Replace(cert, ca_->key()).ok()) << "a key of another certificate";
  EXPECT_EQ(Fetch(port_, "GET", "/", "", {}, Trusting()).status, 200) << "the current one stays";
  ASSERT_TRUE(tls_->Replace(cert, ca_->stray_key()).ok());
  EXPECT_EQ(Fetch(port_, "GET", "/", "", {}, Via{ca_->other_ca()}).status, 200);
  EXPECT_EQ(Fetch(port_, "GET", "/", "", {}, Trusting()).status, 0);
}

}  // namespace
}  // namespace zlh::api
