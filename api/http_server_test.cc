#include "api/http_server.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <thread>

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

// A blocking request over real HTTP with libcurl.
Reply Fetch(uint16_t port, const std::string& method, const std::string& path,
            const std::string& body = "", const std::vector<std::string>& headers = {}) {
  Reply r;
  CURL* curl = curl_easy_init();
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  if (list) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
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

}  // namespace
}  // namespace zlh::api
