#include "api/billing_alerts.h"

#include <cctype>
#include <string_view>

#include "base/clock.h"

namespace zlh::api {
namespace {

// The sender's `createdAt` as a message may show it: at most 40 characters of the kinds a
// timestamp has, so that no text of the sender's can mention anyone or fill the message.
std::string Timestamp(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (out.size() == 40) break;
    if (std::isalnum(static_cast<unsigned char>(c)) ||
        std::string_view(":.+- _").find(c) != std::string_view::npos) {
      out.push_back(c);
    }
  }
  return out;
}

fleet::Intent BillingIntent(std::string key, std::string content, std::string source) {
  fleet::Intent intent;
  intent.key = std::move(key);
  intent.channel = kBillingChannel;
  intent.content = std::move(content);
  intent.ping = true;
  intent.origin = proto::ORIGIN_NODE;
  intent.source = std::move(source);
  return intent;
}

}  // namespace

fleet::Intent PaymentFailedIntent(const std::string& event_id, const std::string& customer_id,
                                  const std::string& created_at) {
  return BillingIntent("billing:" + event_id,
                       "Invoice payment failed for customer " + customer_id + " (billing event " +
                           event_id + ", invoice.payment_failed, created " + Timestamp(created_at) +
                           "). Their servers keep running until billing suspends the customer.",
                       "sys.billing." + customer_id);
}

fleet::Intent SignatureBurstIntent(int64_t first_ms, int count) {
  return BillingIntent("sigburst:" + std::to_string(first_ms),
                       std::to_string(count) + " bad signatures on the billing webhook since " +
                           FormatRfc3339(first_ms) +
                           " (each refused with 401, nothing recorded): the webhook secret may be "
                           "wrong at the sender, or someone is probing the endpoint.",
                       "billing-webhook");
}

}  // namespace zlh::api
