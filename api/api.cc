#include "api/api.h"

#include "api/admin_api.h"
#include "api/errors.h"
#include "api/handlers.h"
#include "api/metrics.h"
#include "api/node_api.h"
#include "api/notification_api.h"
#include "api/server_api.h"
#include "api/workflow_api.h"
#include "base/clock.h"

namespace zlh::api {
namespace {

boost::json::object OutboxJson(const OutboxView& v) {
  boost::json::array failing;
  for (const auto& channel : v.failing) failing.emplace_back(channel);
  return boost::json::object{{"pending", v.pending},
                             {"oldestAt", Rfc3339OrNull(v.oldest_ms)},
                             {"failing", std::move(failing)}};
}

// GET /api/controller's answer without a node's callback: this node alone, no tick yet.
boost::json::object AloneController(int64_t started_ms) {
  return boost::json::object{{"leader", true},
                             {"fencingToken", 0},
                             {"lockTtlMs", 0},
                             {"lastTickAt", nullptr},
                             {"actingSince", Rfc3339(started_ms)},
                             {"waitingUntil", nullptr},
                             {"redis", "off"},
                             {"breakers", boost::json::array()},
                             {"lastDecisions", boost::json::array()}};
}

}  // namespace

Api::Api(ApiDeps deps) : deps_(deps), signatures_(deps_.on_signature_burst) {
  const journal::Journal& j = deps_.journal;
  router_.Add("GET", "/healthz", [&j](const Request&, const PathParams&) -> Task<Response> {
    if (j.health().ok()) co_return JsonResponse(200, R"({"status":"ok"})");
    co_return JsonResponse(503, R"({"status":"unavailable"})");
  });
  router_.Add("GET", "/metrics", [this](const Request&, const PathParams&) -> Task<Response> {
    Response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = RenderMetrics({&deps_.engine, deps_.queues, &deps_.journal, &router_});
    if (deps_.metrics) r.body += deps_.metrics();
    co_return r;
  });
  int64_t started_ms = NowMs();
  router_.Add("GET", "/api/controller", [this, started_ms](const Request& req, const PathParams&) {
    return Controller(req, started_ms);
  });
  servers_ = std::make_unique<ServerApi>(deps_.engine, deps_.journal, deps_.settings, deps_.tokens);
  servers_->AddRoutes(router_);
  workflows_ = std::make_unique<WorkflowApi>(deps_.engine, deps_.journal, deps_.tokens);
  workflows_->AddRoutes(router_);
  admin_ = std::make_unique<AdminApi>(deps_.journal, deps_.tokens,
                                      deps_.settings.file.billing().webhook_secret(), deps_.backups,
                                      BillingHooks{deps_.notified, &signatures_});
  admin_->AddRoutes(router_);
  nodes_ = std::make_unique<NodeApi>(deps_.journal, deps_.settings, deps_.tokens, deps_.hypervisor);
  nodes_->AddRoutes(router_);
  notifications_ = std::make_unique<NotificationApi>(deps_.journal, deps_.tokens);
  notifications_->AddRoutes(router_);
}

Api::~Api() = default;

Task<Response> Api::Controller(const Request& req, int64_t started_ms) const {
  if (auto refused = Refuse(deps_.tokens, req, false, true)) co_return *refused;
  boost::json::object body = deps_.controller ? deps_.controller() : AloneController(started_ms);
  body["outbox"] = OutboxJson(deps_.outbox ? deps_.outbox() : OutboxView{});
  co_return JsonOk(200, body);
}

std::optional<Response> Api::RefuseBeforeSize(const Request& headers) {
  if (headers.path == "/api/billing/webhook") {
    Status shape = CheckSignatureHeaderShape(headers.Header("x-zlh-signature"));
    if (shape.ok()) return std::nullopt;
    signatures_.Refused();
    return ErrorResponse(401, "unauthenticated", shape.message());
  }
  if (headers.path.rfind("/api/", 0) != 0) return std::nullopt;  // /healthz, /metrics: no auth
  return Refuse(deps_.tokens, headers, true, true);  // both roles allowed: only 401 remains
}

}  // namespace zlh::api
