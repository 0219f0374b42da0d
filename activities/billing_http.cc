// HttpBilling (billing_http.h): a customer's billing status over HTTP.
// Thread-safety: as its header says (shareable; no mutable state).
#include "activities/billing_http.h"

#include <boost/json.hpp>

namespace zlh::activities {

HttpBilling::HttpBilling(HttpClient& http, BillingOptions options)
    : base_url_(std::move(options.base_url)),
      service_(http, JsonServiceOptions{std::move(options.token), options.verify_tls,
                                        std::move(options.ca_file), options.request_timeout}) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

Task<Result<std::string>> HttpBilling::CustomerStatus(std::string customer_id) {
  std::string what = "billing GET /customers/" + customer_id;
  if (customer_id.empty()) co_return InvalidArgument(what + ": the customer id is empty");
  auto res = co_await service_.Send("GET", base_url_ + "/customers/" + UrlEscape(customer_id), "",
                                    nullptr);
  if (!res.ok()) co_return res.status();
  ZLH_CO_RETURN_IF_ERROR(StatusOfHttp(res->status, what, res->body));
  auto body = ParseJson(res->body, what);
  if (!body.ok()) co_return body.status();
  std::string status = StringField(*body, "status");
  if (status != "active" && status != "suspended") {
    co_return Unavailable(what + ": status '" + status + "' is neither active nor suspended");
  }
  co_return status;
}

}  // namespace zlh::activities
