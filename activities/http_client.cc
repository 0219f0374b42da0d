#include "activities/http_client.h"

#include <curl/curl.h>

#include <boost/asio/thread_pool.hpp>
#include <cctype>
#include <mutex>

#include "activities/blocking.h"

namespace zlh::activities {
namespace {

namespace asio = boost::asio;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t Body(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One header line; the status line ("HTTP/1.1 500 CT is locked (backup)") gives the reason.
size_t Header(char* data, size_t size, size_t n, void* out) {
  auto* res = static_cast<HttpResponse*>(out);
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    size_t code = line.find(' ');
    size_t reason = code == std::string::npos ? code : line.find(' ', code + 1);
    res->reason = reason == std::string::npos ? "" : line.substr(reason + 1);
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(value.begin());
    res->headers[name] = value;
  }
  return size * n;
}

// One easy handle per worker thread, reset before each request. A reset keeps the handle's open
// connections, so requests to a service reuse a kept-alive TCP (and TLS) connection instead of
// dialing each time: most of a short call's cost on loopback, and a TLS handshake each to Proxmox
// or Cloudflare. libcurl checks a kept connection before reusing it and dials again if the server
// has closed it.
struct ThreadHandle {
  CURL* curl = curl_easy_init();
  ~ThreadHandle() {
    if (curl) curl_easy_cleanup(curl);
  }
};

CURL* ThisThreadsHandle() {
  thread_local ThreadHandle handle;
  if (handle.curl) curl_easy_reset(handle.curl);
  return handle.curl;
}

Result<HttpResponse> Perform(const HttpRequest& req) {
  CURL* curl = ThisThreadsHandle();
  if (!curl) return Internal("libcurl could not make a handle");
  HttpResponse res;
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : req.headers) headers = curl_slist_append(headers, (name + ": " + value).c_str());
  curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &res.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, Header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &res);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, req.verify_tls ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, req.verify_tls ? 2L : 0L);
  if (!req.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, req.ca_file.c_str());
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res.status);
  curl_slist_free_all(headers);
  std::string what = req.method + " " + req.url.substr(0, req.url.find('?'));
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Status(Code::kDeadlineExceeded,
                  what + ": no answer within " + FormatDuration(req.timeout));
  }
  if (rc != CURLE_OK) return Unavailable(what + ": " + curl_easy_strerror(rc));
  return res;
}

}  // namespace

struct HttpClient::Impl {
  explicit Impl(size_t threads) : pool(threads) {}
  asio::thread_pool pool;
};

HttpClient::HttpClient(size_t threads) : impl_(std::make_unique<Impl>(threads)) { GlobalInit(); }

HttpClient::~HttpClient() { impl_->pool.join(); }

Task<Result<HttpResponse>> HttpClient::Send(HttpRequest request) {
  co_return co_await OffLoop<Result<HttpResponse>>(impl_->pool,
                                                   [req = std::move(request)] { return Perform(req); });
}

Status StatusOfHttp(long status, const std::string& what, const std::string& body) {
  if (status >= 200 && status < 300) return Status::Ok();
  std::string detail = body.size() > 300 ? body.substr(0, 300) + "..." : body;
  std::string message = what + ": HTTP " + std::to_string(status) + (detail.empty() ? "" : " " + detail);
  if (status == 408 || status == 425 || status == 429 || status >= 500) return Unavailable(message);
  if (status == 404) return NotFound(message);
  if (status == 409) return FailedPrecondition(message);
  return InvalidArgument(message);
}

}  // namespace zlh::activities
