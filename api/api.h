// Api: every route zlhd serves (SPEC §7.1), assembled on one Router — the Portal's server routes,
// the workflow routes, the admin and billing inputs, the hypervisor's nodes, the notification
// outbox, /healthz and /metrics. api/openapi.yaml documents them; a test keeps the two equal.
//
// Thread-safety: serve on the engine's thread.
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "activities/hypervisor.h"
#include "api/router.h"
#include "api/signature_watch.h"
#include "api/tokens.h"
#include "config/config.h"
#include "journal/journal.h"
#include "scheduler/queues.h"
#include "workflows/engine.h"

namespace zlh::backup {
class Keeper;
}

namespace zlh::api {

class ServerApi;
class WorkflowApi;
class AdminApi;
class NodeApi;
class NotificationApi;

// The notification outbox as GET /api/controller shows it (SPEC §10).
struct OutboxView {
  size_t pending = 0;                // entries with a delivery waiting
  int64_t oldest_ms = 0;             // the oldest of them recorded at; 0 when none
  std::vector<std::string> failing;  // channels whose deliveries fail now ("email" for email)
};

struct ApiDeps {
  workflows::Engine& engine;
  journal::Journal& journal;
  const config::Settings& settings;
  const Tokens& tokens;
  const scheduler::Queues* queues = nullptr;  // for /metrics; may be null
  // GET /api/controller's answer (SPEC §7.1). Null: this node runs alone, without Redis — the
  // journal's exclusive open is its singleton — and no reconcile has run.
  std::function<boost::json::object()> controller = nullptr;
  // GET /api/controller's `outbox`. Null: nothing waits (pending 0, oldestAt null, failing []).
  std::function<OutboxView()> outbox = nullptr;
  // More /metrics text (the node's own gauges), appended as is. May be null.
  std::function<std::string()> metrics = nullptr;
  // Where POST /api/admin/backup writes (SPEC §7.1: under backup.dir, default
  // <data-dir>/backups), and the thread it is taken on. Null: that route answers 503.
  backup::Keeper* backups = nullptr;
  // The hypervisor GET /api/nodes and node drains ask (SPEC §9.2). Null: those answer 503.
  activities::Hypervisor* hypervisor = nullptr;
  // Runs once a request's write has recorded a notification in the outbox (zlhd: the
  // dispatcher's Wake). May be null.
  std::function<void()> notified = nullptr;
  // Called once per burst of bad billing webhook signatures (api::SignatureWatch), inside the
  // request that completed it: it must not block and the request writes nothing itself (zlhd
  // records the alert in a write of its own). May be null.
  SignatureWatch::Sink on_signature_burst = nullptr;
};

class Api {
 public:
  // Everything in `deps` must outlive the Api. The webhook secret is the config's, else the
  // tokens file's.
  explicit Api(ApiDeps deps);
  ~Api();

  Task<Response> Handle(const Request& request) const { return router_.Dispatch(request); }
  // For HttpServer's refuse_before_size: 401 for a request whose body is too large and that has no
  // valid credentials (a bearer token, or for the billing webhook a well-formed signature header,
  // whose absence counts as a bad signature), so that SPEC §7.1's order holds (401 before 413).
  // nullopt: answer 413.
  std::optional<Response> RefuseBeforeSize(const Request& headers);
  const Router& router() const { return router_; }

 private:
  // GET /api/controller (SPEC §7.1): the node's answer, with the outbox's.
  Task<Response> Controller(const Request& req, int64_t started_ms) const;

  ApiDeps deps_;
  Router router_;
  SignatureWatch signatures_;
  std::unique_ptr<ServerApi> servers_;
  std::unique_ptr<WorkflowApi> workflows_;
  std::unique_ptr<AdminApi> admin_;
  std::unique_ptr<NodeApi> nodes_;
  std::unique_ptr<NotificationApi> notifications_;
};

}  // namespace zlh::api
