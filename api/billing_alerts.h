// What the billing webhook tells #alerts-billing (SPEC §10), as outbox intents of this node
// (origin NODE: delivered whether or not the node leads): an invoice whose payment failed, and a
// burst of bad signatures (api::SignatureWatch). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "fleet/outbox.h"

namespace zlh::api {

inline constexpr char kBillingChannel[] = "alerts-billing";

// invoice.payment_failed event `event_id` (created at `created_at`, as the sender wrote it) of
// `customer_id`: key "billing:<event_id>", source "sys.billing.<customer_id>" (the system stream
// the event is recorded on), a ping.
fleet::Intent PaymentFailedIntent(const std::string& event_id, const std::string& customer_id,
                                  const std::string& created_at);

// `count` bad signatures since `first_ms`: key "sigburst:<first_ms>", source "billing-webhook",
// a ping.
fleet::Intent SignatureBurstIntent(int64_t first_ms, int count);

}  // namespace zlh::api
