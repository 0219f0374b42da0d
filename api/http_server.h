// HttpServer: a small HTTP/1.1 server on Boost.Beast for zlhd's API and zlh-sim. One coroutine per
// connection, straight-line: read a request (10 s to receive the headers, 30 s for the whole
// request, bodies over the limit refused with 413 — or what refuse_before_size says first), hand
// it to the handler, write the response,
// keep the connection alive when the client asks. A cap on concurrent connections; Stop closes the
// listener, lets in-flight requests finish (up to a deadline) and closes idle connections.
// With a TlsContext it serves HTTPS only, by the same code over a TLS stream: the handshake first
// (within handshake_timeout); a client that fails it — plain HTTP to this port among them — is
// disconnected without an answer.
//
// Thread-safety: runs on one io_context; Listen, Start and Stop are called on its thread (Stop is
// a coroutine). The handler runs on that thread too.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/duration.h"
#include "base/status.h"

namespace zlh::api {

template <typename T>
using Task = boost::asio::awaitable<T>;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/api/workflows?status=failed"
  std::string path;    // the target without its query
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  // The header's value, or "" when absent. `name` in lower case.
  std::string Header(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string reason;  // the status line's reason phrase; empty: the standard one
};

using Handler = std::function<Task<Response>(const Request&)>;

class TlsContext;  // api/tls_context.h

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: a free port (Listen returns it)
  // HTTPS with this certificate (each new connection takes its current one); null: plain HTTP.
  std::shared_ptr<TlsContext> tls;
  Millis handshake_timeout{10'000};  // TLS only
  size_t body_limit = 64 * 1024;
  Millis header_timeout{10'000};
  Millis request_timeout{30'000};
  Millis idle_timeout{60'000};  // a kept-alive connection with no new request
  size_t max_connections = 1024;
  // Builds the response for a request the server refuses itself (413, 400, 503 when full).
  std::function<Response(int status, const std::string& message)> error_response;
  // Asked about a request whose body is over the limit, with its headers only (no body): a
  // response to send instead of 413, or nullopt. An API answers 401 there to a caller without
  // credentials, so that authentication is checked before size. May be null.
  std::function<std::optional<Response>(const Request& headers)> refuse_before_size;
};

// "HOST:PORT" (port 0..65535) as a listen address. kInvalidArgument saying so otherwise.
struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
Result<ListenAddress> ParseListenAddress(const std::string& text);

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, ServerOptions options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; returns the port. kInvalidArgument for a bad host, kUnavailable when the
  // address is taken.
  Result<uint16_t> Listen();
  // Starts accepting connections (after Listen).
  void Start();
  // Stops accepting; waits for in-flight requests (at most `deadline`), then closes everything.
  Task<void> Stop(Millis deadline);

  size_t connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace zlh::api
