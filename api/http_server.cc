#include "api/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <chrono>
#include <set>

#include "api/tls_context.h"
#include "base/url.h"

namespace zlh::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kMaxRefusing = 64;  // 503 answers being written at once to connections over the cap

Response DefaultError(int status, const std::string& message) {
  Response r;
  r.status = status;
  r.body = "{\"error\":{\"code\":\"" + std::string(status == 413 ? "payload_too_large"
                                                   : status == 503 ? "unavailable"
                                                                   : "invalid_argument") +
           "\",\"message\":\"" + message + "\"}}";
  return r;
}

Request FromBeast(const http::request<http::string_body>& req) {
  Request r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  std::string_view target = r.target;
  size_t q = target.find('?');
  r.path = UrlDecode(target.substr(0, q), false);
  if (q != std::string_view::npos) r.query = ParseForm(target.substr(q + 1));
  for (const auto& field : req) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(field.value());
  }
  r.body = req.body();
  return r;
}

http::response<http::string_body> ToBeast(const Response& res, unsigned version, bool keep_alive) {
  http::response<http::string_body> out{static_cast<http::status>(res.status), version};
  out.set(http::field::server, "zlh-flow");
  if (!res.reason.empty()) out.reason(res.reason);
  if (!res.body.empty() || res.status != 204) out.set(http::field::content_type, res.content_type);
  for (const auto& [name, value] : res.headers) out.set(name, value);
  out.body() = res.body;
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

// How long a connection over the cap has to take its 503 (and, with TLS, to shake hands first).
constexpr Millis kRefusalTimeout{1'000};
// How long a TLS connection's close_notify exchange may take before the socket is just closed.
constexpr Millis kTlsCloseTimeout{1'000};

// An HTTP parse error (answered 400), not a connection that ended, timed out or broke.
bool IsMalformed(const boost::system::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

// A plain connection has no handshake.
Task<bool> Handshake(beast::tcp_stream&, Millis) { co_return true; }

// The TLS handshake, within `timeout`; false (the connection is then closed without a word) when
// it fails — a client speaking plain HTTP to the HTTPS port, one that does not trust the
// certificate, or one too old for the policy.
Task<bool> Handshake(beast::ssl_stream<beast::tcp_stream>& stream, Millis timeout) {
  beast::get_lowest_layer(stream).expires_after(timeout);
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kTuple);
  if (ec) {
    boost::system::error_code gone;
    auto peer = beast::get_lowest_layer(stream).socket().remote_endpoint(gone);
    spdlog::debug("http: TLS handshake with {} failed: {}", peer.address().to_string(),
                  ec.message());
  }
  co_return !ec;
}

Task<void> Close(beast::tcp_stream&) { co_return; }

// Ends the TLS session with a close_notify, not waiting long for the client's.
Task<void> Close(beast::ssl_stream<beast::tcp_stream>& stream) {
  beast::get_lowest_layer(stream).expires_after(kTlsCloseTimeout);
  (void)co_await stream.async_shutdown(kTuple);
}

}  // namespace

Result<ListenAddress> ParseListenAddress(const std::string& text) {
  size_t colon = text.rfind(':');
  char* end = nullptr;
  long port = colon == std::string::npos ? -1 : std::strtol(text.c_str() + colon + 1, &end, 10);
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size() || *end != '\0' ||
      port < 0 || port > 65535) {
    return InvalidArgument("'" + text + "' is not HOST:PORT");
  }
  return ListenAddress{text.substr(0, colon), static_cast<uint16_t>(port)};
}

std::string Request::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& io, ServerOptions options, Handler handler)
      : io(io), acceptor(io), options(std::move(options)), handler(std::move(handler)) {
    if (!this->options.error_response) this->options.error_response = DefaultError;
  }

  Task<void> Accept();
  // A connection, plain or over TLS as the server is configured: served, or — when `refuse`, a
  // connection over the cap — answered 503 at once.
  Task<void> Session(tcp::socket socket, bool refuse);
  template <class Stream>
  Task<void> Connection(Stream& stream, bool refuse);
  // The requests of one connection, one after the other (keep-alive).
  template <class Stream>
  Task<void> Serve(Stream& stream);
  // The answer to a request whose body is over the limit: refuse_before_size's, else 413.
  Response Oversize(const Request& headers) const {
    if (options.refuse_before_size) {
      if (auto refused = options.refuse_before_size(headers)) return *refused;
    }
    return options.error_response(413, "the request body exceeds " +
                                           std::to_string(options.body_limit) + " bytes");
  }

  asio::io_context& io;
  tcp::acceptor acceptor;
  ServerOptions options;
  Handler handler;
  std::set<beast::tcp_stream*> streams;  // open connections (their TCP layer)
  std::set<beast::tcp_stream*> busy;     // ... serving a request now
  size_t refusing = 0;                   // connections being told 503 (over the cap)
  bool stopping = false;
};

Task<void> HttpServer::Impl::Accept() {
  auto self = shared_from_this();
  while (!stopping) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (stopping || ec == asio::error::operation_aborted) break;
      spdlog::warn("http: accept failed: {}", ec.message());
      continue;
    }
    if (streams.size() >= options.max_connections) {
      // Full: answer 503 at once rather than leave the client hanging; past a flood of those,
      // close without an answer.
      boost::system::error_code ignored;
      if (refusing < kMaxRefusing) {
        asio::co_spawn(io, Session(std::move(socket), true), asio::detached);
      } else {
        socket.close(ignored);
      }
      continue;
    }
    asio::co_spawn(io, Session(std::move(socket), false), asio::detached);
  }
}

Task<void> HttpServer::Impl::Session(tcp::socket socket, bool refuse) {
  auto self = shared_from_this();
  if (!options.tls) {
    beast::tcp_stream stream(std::move(socket));
    co_await Connection(stream, refuse);
    co_return;
  }
  // The context as it is now (a replaced certificate applies to later connections), kept alive
  // for this connection.
  std::shared_ptr<ssl::context> context = options.tls->current();
  beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *context);
  co_await Connection(stream, refuse);
}

template <class Stream>
Task<void> HttpServer::Impl::Connection(Stream& stream, bool refuse) {
  beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
  if (refuse) {
    ++refusing;
  } else {
    streams.insert(&tcp);
  }
  const Millis handshake_timeout = refuse ? kRefusalTimeout : options.handshake_timeout;
  if (co_await Handshake(stream, handshake_timeout)) {
    if (refuse) {
      auto res = ToBeast(options.error_response(503, "too many connections"), 11, false);
      tcp.expires_after(kRefusalTimeout);
      (void)co_await http::async_write(stream, res, kTuple);
    } else {
      co_await Serve(stream);
    }
    co_await Close(stream);
  }
  boost::system::error_code ignored;
  tcp.socket().shutdown(tcp::socket::shutdown_send, ignored);
  if (refuse) {
    --refusing;
  } else {
    streams.erase(&tcp);
    busy.erase(&tcp);
  }
}

template <class Stream>
Task<void> HttpServer::Impl::Serve(Stream& stream) {
  beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  bool first = true;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(options.body_limit);
    parser.header_limit(16 * 1024);
    // The first request's headers within header_timeout; a kept-alive connection may idle up to
    // idle_timeout before its next request's headers are in.
    tcp.expires_after(first ? options.header_timeout : options.idle_timeout);
    // No limit while the headers are read: a declared length over the limit is judged below,
    // once every header (the credentials among them) is in.
    parser.body_limit(boost::none);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    auto started = std::chrono::steady_clock::now();
    if (!ec) {
      auto length = parser.content_length();
      if (length && *length > options.body_limit) ec = http::error::body_limit;
    }
    if (!ec) {
      parser.body_limit(options.body_limit);  // a chunked body is counted as it arrives
      tcp.expires_after(options.request_timeout);
      std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kTuple);
    }
    if (ec == http::error::body_limit) {
      auto res = ToBeast(Oversize(FromBeast(parser.get())), 11, false);
      tcp.expires_after(options.request_timeout);
      (void)co_await http::async_write(stream, res, kTuple);
      break;
    }
    if (ec) {
      if (IsMalformed(ec)) {
        // A malformed request: say so, then close.
        auto res = ToBeast(options.error_response(400, "malformed HTTP request: " + ec.message()),
                           11, false);
        tcp.expires_after(options.request_timeout);
        (void)co_await http::async_write(stream, res, kTuple);
      }
      break;  // else the client left, went silent, or the connection broke
    }
    first = false;
    busy.insert(&tcp);
    const auto& req = parser.get();
    Response res;
    try {
      res = co_await handler(FromBeast(req));
    } catch (const std::exception& e) {
      spdlog::error("http: handler for {} {} threw: {}", std::string(req.method_string()),
                    std::string(req.target()), e.what());
      res = options.error_response(500, std::string("the handler threw: ") + e.what());
    }
    bool keep_alive = req.keep_alive() && !stopping;
    auto out = ToBeast(res, req.version(), keep_alive);
    auto left = options.request_timeout - std::chrono::duration_cast<Millis>(
                                              std::chrono::steady_clock::now() - started);
    tcp.expires_after(std::max(left, Millis(1000)));
    auto [wec, wn] = co_await http::async_write(stream, out, kTuple);
    busy.erase(&tcp);
    if (wec || !keep_alive) break;
  }
}

HttpServer::HttpServer(asio::io_context& io, ServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() {
  boost::system::error_code ignored;
  impl_->stopping = true;
  impl_->acceptor.close(ignored);
  for (auto* s : impl_->streams) s->socket().close(ignored);
}

Result<uint16_t> HttpServer::Listen() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) return InvalidArgument("'" + impl_->options.host + "' is not an IP address");
  tcp::endpoint endpoint(address, impl_->options.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Unavailable("cannot listen on " + impl_->options.host + ":" +
                       std::to_string(impl_->options.port) + ": " + ec.message());
  }
  return acceptor.local_endpoint().port();
}

void HttpServer::Start() { asio::co_spawn(impl_->io, impl_->Accept(), asio::detached); }

Task<void> HttpServer::Stop(Millis deadline) {
  auto impl = impl_;
  impl->stopping = true;
  boost::system::error_code ignored;
  impl->acceptor.close(ignored);
  // Idle connections close now; busy ones finish their request first (keep-alive is off).
  for (auto* s : impl->streams) {
    if (!impl->busy.count(s)) s->socket().close(ignored);
  }
  auto until = std::chrono::steady_clock::now() + deadline;
  asio::steady_timer poll(impl->io);
  while (!impl->streams.empty() && std::chrono::steady_clock::now() < until) {
    poll.expires_after(std::chrono::milliseconds(5));
    co_await poll.async_wait(kTuple);
    for (auto* s : impl->streams) {
      if (!impl->busy.count(s)) s->socket().close(ignored);
    }
  }
  for (auto* s : impl->streams) s->socket().close(ignored);
}

size_t HttpServer::connections() const { return impl_->streams.size(); }

}  // namespace zlh::api
