// HttpBilling: the Billing over the billing system's status API: GET {base}/customers/{id} →
// {"customerId", "status": "active" | "suspended"}, bearer-token auth. Reads only.
// Errors: kNotFound for an unknown customer (404), kUnavailable / kDeadlineExceeded for what a
// retry may fix, kUnavailable for an answer of another shape.
//
// Thread-safety: shareable; its HttpClient must outlive it.
#pragma once

#include <string>

#include "activities/http_client.h"
#include "activities/json_service.h"
#include "activities/services.h"

namespace zlh::activities {

struct BillingOptions {
  // "https://billing.example/api", or zlh-sim's "http://127.0.0.1:9090/billing".
  std::string base_url;
  std::string token;  // bearer token; no Authorization header when empty
  bool verify_tls = true;
  std::string ca_file;
  Millis request_timeout{5'000};
};

class HttpBilling final : public Billing {
 public:
  HttpBilling(HttpClient& http, BillingOptions options);

  Task<Result<std::string>> CustomerStatus(std::string customer_id) override;

 private:
  std::string base_url_;
  JsonService service_;
};

}  // namespace zlh::activities
