// HttpClient: outbound HTTP for the activities, on libcurl. A request runs on one of a few worker
// threads (libcurl's easy interface blocks), so the event loop never stalls; the awaiting
// coroutine resumes on its own executor. TLS verification is on unless a request turns it off.
//
// Thread-safety: Send may be called from any thread; the client must outlive its requests.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/duration.h"
#include "base/status.h"

namespace zlh::activities {

template <typename T>
using Task = boost::asio::awaitable<T>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Millis timeout{30'000};
  bool verify_tls = true;
  std::string ca_file;  // a CA bundle to trust instead of the system's (self-signed Proxmox)
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string reason;  // the status line's reason phrase ("CT is locked (backup)" from Proxmox)
};

class HttpClient {
 public:
  explicit HttpClient(size_t threads = 4);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // The response, whatever its status. kDeadlineExceeded when `timeout` passed; kUnavailable when
  // no answer came (refused, reset, DNS, TLS).
  Task<Result<HttpResponse>> Send(HttpRequest request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What an HTTP status means to a step's retry policy: 2xx OK; 408, 425, 429 and 5xx kUnavailable
// (retry); 404 kNotFound; 409 kFailedPrecondition (a conflict or a stale fencing token); other 4xx
// kInvalidArgument (a retry cannot help). `what` names the call in the message.
Status StatusOfHttp(long status, const std::string& what, const std::string& body);

}  // namespace zlh::activities
