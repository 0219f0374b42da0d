// GET /api/notifications (notification_api.h), on fleet::ListNotifications.
// Thread-safety: as its header says.
#include "api/notification_api.h"

#include <boost/json.hpp>
#include <charconv>

#include "api/errors.h"
#include "api/handlers.h"
#include "fleet/outbox.h"

namespace zlh::api {
namespace {

namespace json = boost::json;

constexpr size_t kDefaultLimit = 100;

const char* StateName(proto::DeliveryState state) {
  switch (state) {
    case proto::DELIVERY_PENDING:
      return "pending";
    case proto::DELIVERY_DELIVERED:
      return "delivered";
    case proto::DELIVERY_FAILED:
      return "failed";
    default:
      return "unknown";
  }
}

const char* OriginName(proto::NotificationOrigin origin) {
  switch (origin) {
    case proto::ORIGIN_WORKFLOW:
      return "workflow";
    case proto::ORIGIN_NODE:
      return "node";
    default:
      return "unknown";
  }
}

json::object DeliveryJson(const proto::Delivery& d) {
  return json::object{{"route", d.route()},
                      {"state", StateName(d.state())},
                      {"attempts", d.attempts()},
                      {"parts", d.parts()},
                      {"partsDone", d.parts_done()},
                      {"nextTryAt", Rfc3339OrNull(d.next_try_ms())},
                      {"doneAt", Rfc3339OrNull(d.done_ms())},
                      {"lastStatus", d.last_status()},
                      {"lastError", d.last_error()},
                      {"interrupted", d.interrupted()},
                      {"reason", d.reason()}};
}

json::object NotificationJson(const proto::Notification& n) {
  json::array deliveries;
  for (const auto& d : n.deliveries()) deliveries.push_back(DeliveryJson(d));
  return json::object{{"id", n.id()},
                      {"key", n.key()},
                      {"channel", n.channel()},
                      {"ping", n.ping()},
                      {"content", n.content()},
                      {"recordedAt", Rfc3339(n.recorded_ms())},
                      {"status", fleet::NotificationStatus(n)},
                      {"origin", OriginName(n.origin())},
                      {"source", n.source()},
                      {"sourceStep", n.source_step()},
                      {"deliveries", std::move(deliveries)}};
}

// The filter of ?status=&channel=&limit=&after= (after: the previous page's `next`, an id).
Result<fleet::NotificationFilter> ReadFilter(const Request& req) {
  auto page = ReadPage(req);
  if (!page.ok()) return page.status();
  fleet::NotificationFilter filter;
  filter.limit = req.query.count("limit") ? page->limit : kDefaultLimit;
  if (auto it = req.query.find("status"); it != req.query.end()) filter.status = it->second;
  if (filter.status.empty() && req.query.count("status")) {
    return InvalidArgument("status: must be pending, delivered or failed, not ''");
  }
  if (auto it = req.query.find("channel"); it != req.query.end()) filter.channel = it->second;
  if (req.query.count("after")) {
    const std::string& after = page->after;
    auto [end, ec] = std::from_chars(after.data(), after.data() + after.size(), filter.before);
    if (after.empty() || ec != std::errc() || end != after.data() + after.size() ||
        filter.before == 0) {
      return InvalidArgument("after: the `next` of the previous page (a notification id), not '" +
                             after + "'");
    }
  }
  return filter;
}

}  // namespace

NotificationApi::NotificationApi(const journal::Journal& journal, const Tokens& tokens)
    : journal_(journal), tokens_(tokens) {}

void NotificationApi::AddRoutes(Router& router) {
  router.Add("GET", "/api/notifications",
             [this](const Request& r, const PathParams&) { return List(r); });
}

Task<Response> NotificationApi::List(const Request& req) {
  if (auto refused = Refuse(tokens_, req, false, true)) co_return *refused;
  auto filter = ReadFilter(req);
  if (!filter.ok()) co_return ErrorResponse(filter.status());
  auto page = fleet::ListNotifications(journal_, *filter);
  if (!page.ok()) co_return ErrorResponse(page.status());
  json::array items;
  for (const auto& n : page->items) items.push_back(NotificationJson(n));
  co_return JsonOk(
      200, json::object{{"notifications", std::move(items)},
                        {"next", page->next ? json::value(page->next) : json::value(nullptr)}});
}

}  // namespace zlh::api
