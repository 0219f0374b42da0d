#include "api/server_api.h"

#include <boost/json.hpp>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/json_body.h"
#include "base/ids.h"
#include "fleet/tables.h"
#include "flows/inputs.h"
#include "journal/format.h"

namespace zlh::api {
namespace {

namespace json = boost::json;

json::object ServerJson(const proto::Server& s) {
  return json::object{{"serverId", s.server_id()},
                      {"customerId", s.customer_id()},
                      {"ctype", s.ctype()},
                      {"name", s.name()},
                      {"game", s.game()},
                      {"plan", s.plan()},
                      {"vmid", s.vmid()},
                      {"node", s.node()},
                      {"address", s.address()},
                      {"status", fleet::ServerStatusName(s.status())},
                      {"createdAt", Rfc3339(s.created_ms())},
                      {"updatedAt", Rfc3339(s.updated_ms())}};
}

// The input recorded in the first event of workflow `id`.
Result<std::string> RecordedInput(const journal::Journal& journal, const std::string& id) {
  auto raw = journal.Get(journal::Cf::kEvents, journal::EventKey(id, 1));
  if (!raw.ok()) return raw.status();
  proto::Event e;
  if (!raw->has_value() || !e.ParseFromString(**raw) || !e.has_workflow_started()) {
    return Status(Code::kCorruption, "workflow " + id + " has no readable start");
  }
  return e.workflow_started().input();
}

Result<std::optional<std::string>> DedupHit(const journal::Journal& journal, const std::string& key) {
  return journal.Get(journal::Cf::kIndex, journal::DedupIndexKey(key));
}

Response Suspended(const std::string& customer_id) {
  return ErrorResponse(402, "billing_suspended", "customer " + customer_id + " is suspended by billing");
}

json::object CreateAnswer(const std::string& workflow_id, const std::string& server_id) {
  return json::object{{"workflowId", workflow_id},
                      {"serverId", server_id},
                      {"status", "queued"},
                      {"statusUrl", "/api/workflows/" + workflow_id}};
}

// The answer to a create whose dedup key names workflow `id`: 200 with the first answer when the
// request is the same, 409 naming the first field that differs.
Response Repeated(const journal::Journal& journal, const std::string& id,
                  const flows::ProvisionInput& now) {
  auto input = RecordedInput(journal, id);
  if (!input.ok()) return ErrorResponse(input.status());
  auto first = flows::ParseProvisionInput(*input);
  if (!first.ok()) return ErrorResponse(first.status());
  std::pair<const char*, bool> fields[] = {{"customerId", first->customer_id == now.customer_id},
                                           {"ctype", first->ctype == now.ctype},
                                           {"requestNonce", first->request_nonce == now.request_nonce},
                                           {"game", first->game == now.game},
                                           {"plan", first->plan == now.plan},
                                           {"name", first->name == now.name}};
  for (const auto& [field, same] : fields) {
    if (!same) {
      return ErrorResponse(409, "conflict",
                           std::string(field) + ": differs from the first request with this " +
                               "requestNonce (workflow " + id + ")");
    }
  }
  return JsonOk(200, CreateAnswer(id, first->server_id));
}

}  // namespace

ServerApi::ServerApi(workflows::Engine& engine, journal::Journal& journal,
                     const config::Settings& settings, const Tokens& tokens)
    : engine_(engine), journal_(journal), settings_(settings), tokens_(tokens) {}

void ServerApi::AddRoutes(Router& router) {
  router.Add("POST", "/api/servers/create",
             [this](const Request& r, const PathParams&) { return Create(r); });
  router.Add("GET", "/api/servers", [this](const Request& r, const PathParams&) { return ListServers(r); });
  router.Add("GET", "/api/servers/{serverId}",
             [this](const Request& r, const PathParams& p) { return GetServer(r, p); });
  router.Add("DELETE", "/api/servers/{serverId}",
             [this](const Request& r, const PathParams& p) { return Delete(r, p); });
  router.Add("POST", "/api/servers/{serverId}/operations",
             [this](const Request& r, const PathParams& p) { return Operate(r, p); });
}

Task<Response> ServerApi::Create(const Request& req) {
  if (auto refused = Refuse(tokens_, req, true, false)) co_return *refused;
  if (auto refused = RefuseMediaType(req)) co_return *refused;
  auto body = JsonBody::Parse(req.body, {"customerId", "ctype", "requestNonce", "game", "plan", "name"});
  if (!body.ok()) co_return ErrorResponse(body.status());
  flows::ProvisionInput in;
  // Every field is checked, in the order of the body's definition.
  auto field = [&](std::string_view name, bool required, std::string* out) -> Status {
    auto v = body->String(name, required);
    if (!v.ok()) return v.status();
    *out = v->value_or("");
    return Status::Ok();
  };
  Status bad = field("customerId", true, &in.customer_id);
  if (bad.ok()) bad = CheckIdentifier("customerId", in.customer_id);
  if (bad.ok()) bad = field("ctype", true, &in.ctype);
  if (bad.ok() && in.ctype != "game" && in.ctype != "dev") {
    bad = InvalidArgument("ctype: must be \"game\" or \"dev\"");
  }
  if (bad.ok()) bad = field("requestNonce", true, &in.request_nonce);
  if (bad.ok()) bad = CheckIdentifier("requestNonce", in.request_nonce);
  if (bad.ok()) bad = field("game", in.ctype == "game", &in.game);
  if (bad.ok() && in.ctype == "dev" && !in.game.empty()) {
    bad = InvalidArgument("game: must be absent for a dev container");
  }
  if (bad.ok() && in.ctype == "game" &&
      (in.game == "dev" || settings_.FindTemplate(in.game) == nullptr)) {
    bad = InvalidArgument("game: '" + in.game + "' is not a configured game");
  }
  if (bad.ok()) bad = field("plan", true, &in.plan);
  if (bad.ok() && !settings_.HasPlan(in.plan)) {
    bad = InvalidArgument("plan: '" + in.plan + "' is not a configured plan");
  }
  if (bad.ok()) bad = field("name", true, &in.name);
  if (bad.ok()) bad = CheckDnsLabel("name", in.name);
  if (!bad.ok()) co_return ErrorResponse(bad);

  // The dedup key before anything else: a repeated request gets its first answer.
  auto hit = DedupHit(journal_, flows::ProvisionDedupKey(in));
  if (!hit.ok()) co_return ErrorResponse(hit.status());
  if (hit->has_value()) co_return Repeated(journal_, **hit, in);

  auto billing = fleet::ReadBillingStatus(journal_, in.customer_id);
  if (!billing.ok()) co_return ErrorResponse(billing.status());
  if (*billing == "suspended") co_return Suspended(in.customer_id);
  in.server_id = NewId();
  auto started = co_await engine_.Start(flows::ProvisionStart(in, settings_));
  if (!started.ok()) co_return ErrorResponse(started.status());
  if (!started->created) co_return Repeated(journal_, started->id, in);  // a concurrent twin won
  co_return JsonOk(202, CreateAnswer(started->id, in.server_id));
}

Task<Response> ServerApi::Operate(const Request& req, const PathParams& params) {
  if (auto refused = Refuse(tokens_, req, true, false)) co_return *refused;
  if (auto refused = RefuseMediaType(req)) co_return *refused;
  auto body = JsonBody::Parse(req.body, {"customerId", "op", "requestNonce", "backupId"});
  if (!body.ok()) co_return ErrorResponse(body.status());
  flows::OperationInput in;
  in.server_id = params.at("serverId");
  in.reason = "portal";
  auto customer = body->String("customerId", true);
  if (!customer.ok()) co_return ErrorResponse(customer.status());
  in.customer_id = **customer;
  if (Status s = CheckIdentifier("customerId", in.customer_id); !s.ok()) co_return ErrorResponse(s);
  auto op = body->String("op", true);
  if (!op.ok()) co_return ErrorResponse(op.status());
  in.op = **op;
  if (in.op != "start" && in.op != "stop" && in.op != "restart" && in.op != "backup" &&
      in.op != "restore") {
    co_return ErrorResponse(InvalidArgument("op: must be start, stop, restart, backup or restore"));
  }
  auto nonce = body->String("requestNonce", true);
  if (!nonce.ok()) co_return ErrorResponse(nonce.status());
  in.request_nonce = **nonce;
  if (Status s = CheckIdentifier("requestNonce", in.request_nonce); !s.ok()) co_return ErrorResponse(s);
  auto backup = body->String("backupId", false);
  if (!backup.ok()) co_return ErrorResponse(backup.status());
  in.backup_id = backup->value_or("");
  if (!in.backup_id.empty() && in.op != "restore") {
    co_return ErrorResponse(InvalidArgument("backupId: only for op \"restore\""));
  }

  workflows::StartRequest start = flows::OperationStart(in);
  auto hit = DedupHit(journal_, start.dedup_key);
  if (!hit.ok()) co_return ErrorResponse(hit.status());
  if (hit->has_value()) co_return JsonOk(200, json::object{{"workflowId", **hit}});

  auto server = fleet::ReadServer(journal_, in.server_id);
  if (!server.ok()) co_return ErrorResponse(server.status());
  if (!server->has_value() || (*server)->customer_id() != in.customer_id ||
      (*server)->status() == proto::SERVER_DELETED) {
    co_return ErrorResponse(404, "not_found", "server " + in.server_id + " not found");
  }
  if (in.op != "stop" && in.op != "backup") {
    // A suspended customer may still stop a server and save its data, nothing else (SPEC §7.1).
    auto billing = fleet::ReadBillingStatus(journal_, in.customer_id);
    if (!billing.ok()) co_return ErrorResponse(billing.status());
    if (*billing == "suspended") co_return Suspended(in.customer_id);
  }
  int status = (*server)->status();
  if (status != proto::SERVER_RUNNING && status != proto::SERVER_STOPPED) {
    co_return ErrorResponse(409, "conflict",
                            "server " + in.server_id + " is " + fleet::ServerStatusName(status) +
                                "; operations need a running or stopped server");
  }
  auto started = co_await engine_.Start(std::move(start));
  if (!started.ok()) co_return ErrorResponse(started.status());
  co_return JsonOk(started->created ? 202 : 200, json::object{{"workflowId", started->id}});
}

Task<Response> ServerApi::Delete(const Request& req, const PathParams& params) {
  if (auto refused = Refuse(tokens_, req, true, false)) co_return *refused;
  std::string server_id = params.at("serverId");
  auto customer = req.query.find("customerId");
  if (customer == req.query.end()) {
    co_return ErrorResponse(InvalidArgument("customerId: required (query parameter)"));
  }
  if (Status s = CheckIdentifier("customerId", customer->second); !s.ok()) co_return ErrorResponse(s);
  auto server = fleet::ReadServer(journal_, server_id);
  if (!server.ok()) co_return ErrorResponse(server.status());
  if (!server->has_value() || (*server)->customer_id() != customer->second) {
    co_return ErrorResponse(404, "not_found", "server " + server_id + " not found");
  }
  workflows::StartRequest start = flows::DeprovisionStart(server_id, customer->second);
  auto hit = DedupHit(journal_, start.dedup_key);
  if (!hit.ok()) co_return ErrorResponse(hit.status());
  if (hit->has_value()) co_return JsonOk(200, json::object{{"workflowId", **hit}});
  int status = (*server)->status();
  if (status == proto::SERVER_QUEUED || status == proto::SERVER_PROVISIONING) {
    co_return ErrorResponse(409, "conflict",
                            "server " + server_id + " is still provisioning; cancel its " +
                                "provisioning workflow instead");
  }
  auto started = co_await engine_.Start(std::move(start));
  if (!started.ok()) co_return ErrorResponse(started.status());
  co_return JsonOk(started->created ? 202 : 200, json::object{{"workflowId", started->id}});
}

Task<Response> ServerApi::ListServers(const Request& req) {
  if (auto refused = Refuse(tokens_, req, true, true)) co_return *refused;
  auto customer = ReadScope(tokens_, req);
  if (!customer.ok()) co_return ErrorResponse(customer.status());
  if (!*customer) co_return ListEveryServer(req);
  auto servers = fleet::ListCustomerServers(journal_, **customer);
  if (!servers.ok()) co_return ErrorResponse(servers.status());
  json::array out;
  for (const auto& s : *servers) out.push_back(ServerJson(s));
  co_return JsonOk(200, json::object{{"servers", std::move(out)}});
}

Response ServerApi::ListEveryServer(const Request& req) {
  auto page = ReadPage(req);
  if (!page.ok()) return ErrorResponse(page.status());
  auto servers = fleet::ListServersPage(journal_, page->after, page->limit);
  if (!servers.ok()) return ErrorResponse(servers.status());
  json::array out;
  for (const auto& s : servers->servers) out.push_back(ServerJson(s));
  json::object answer{{"servers", std::move(out)}};
  if (!servers->next.empty()) answer["next"] = servers->next;
  return JsonOk(200, answer);
}

Task<Response> ServerApi::GetServer(const Request& req, const PathParams& params) {
  if (auto refused = Refuse(tokens_, req, true, true)) co_return *refused;
  auto customer = ReadScope(tokens_, req);
  if (!customer.ok()) co_return ErrorResponse(customer.status());
  const std::string& id = params.at("serverId");
  auto server = fleet::ReadServer(journal_, id);
  if (!server.ok()) co_return ErrorResponse(server.status());
  if (!server->has_value() ||
      (*customer && (*server)->customer_id() != **customer)) {
    co_return ErrorResponse(404, "not_found", "server " + id + " not found");
  }
  co_return JsonOk(200, ServerJson(**server));
}

}  // namespace zlh::api
