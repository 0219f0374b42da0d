// Fetch: one blocking HTTP(S) request over loopback with libcurl, for tests that drive real
// processes. Test-only.
#pragma once

#include <curl/curl.h>

#include <string>
#include <vector>

namespace zlh {

struct Fetched {
  long status = 0;  // 0: no answer
  std::string body;
  CURLcode code = CURLE_OK;  // why there was no answer
  std::string error;         // ... in libcurl's words
};

inline size_t FetchCollect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// `ca_file`: for an https:// URL, the CA certificate to verify the server's against (instead of
// the system's).
inline Fetched Fetch(const std::string& method, const std::string& url,
                     const std::string& body = "", const std::vector<std::string>& headers = {},
                     long timeout_ms = 20'000, const std::string& ca_file = "") {
  Fetched r;
  CURL* curl = curl_easy_init();
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (list) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  if (!body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, FetchCollect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (!ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  r.code = curl_easy_perform(curl);
  if (r.code == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  } else {
    r.error = error[0] ? error : curl_easy_strerror(r.code);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return r;
}

}  // namespace zlh
