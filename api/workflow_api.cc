#include "api/workflow_api.h"

#include <boost/json.hpp>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/json_body.h"
#include "api/proto_json.h"
#include "journal/format.h"
#include "workflows/view.h"

namespace zlh::api {
namespace {

namespace json = boost::json;

json::value WaitingFor(const proto::WorkflowSummary& s) {
  if (!s.has_waiting_for()) return nullptr;
  return json::object{{"kind", s.waiting_for().kind()},
                      {"detail", s.waiting_for().detail()},
                      {"since", Rfc3339(s.waiting_for().since_ms())},
                      {"polls", s.waiting_for().polls()}};
}

json::value Error(const proto::WorkflowSummary& s) {
  if (!s.has_error()) return nullptr;
  return json::object{{"code", s.error().code()}, {"message", s.error().message()}};
}

json::object SummaryJson(const proto::WorkflowSummary& s) {
  return json::object{{"workflowId", s.id()},
                      {"type", s.type()},
                      {"status", workflows::StatusName(s.status())},
                      {"createdAt", Rfc3339(s.created_ms())},
                      {"updatedAt", Rfc3339(s.updated_ms())},
                      {"waitingFor", WaitingFor(s)},
                      {"error", Error(s)}};
}

// The workflow's id from the path, known to exist; 404 otherwise.
Result<proto::WorkflowSummary> Known(workflows::Engine& engine, const PathParams& params,
                                     const char* name = "id") {
  return engine.Summary(params.at(name));
}

}  // namespace

WorkflowApi::WorkflowApi(workflows::Engine& engine, journal::Journal& journal, const Tokens& tokens)
    : engine_(engine), journal_(journal), tokens_(tokens) {}

void WorkflowApi::AddRoutes(Router& router) {
  router.Add("GET", "/api/workflows", [this](const Request& r, const PathParams&) { return List(r); });
  router.Add("GET", "/api/workflows/{id}", [this](const Request& r, const PathParams& p) { return Get(r, p); });
  router.Add("GET", "/api/workflows/{id}/history",
             [this](const Request& r, const PathParams& p) { return History(r, p); });
  router.Add("POST", "/api/workflows/{id}/cancel",
             [this](const Request& r, const PathParams& p) { return Cancel(r, p); });
  router.Add("POST", "/api/workflows/{id}/signals/{name}",
             [this](const Request& r, const PathParams& p) { return Signal(r, p); });
  router.Add("POST", "/api/workflows/{id}/retry",
             [this](const Request& r, const PathParams& p) { return Retry(r, p); });
  router.Add("POST", "/api/repairs/{workflowId}/approve",
             [this](const Request& r, const PathParams& p) { return Approve(r, p); });
}

Task<Response> WorkflowApi::Get(const Request& req, const PathParams& params) {
  if (auto refused = Refuse(tokens_, req, true, true)) co_return *refused;
  auto customer = ReadScope(tokens_, req);
  if (!customer.ok()) co_return ErrorResponse(customer.status());
  const std::string& id = params.at("id");
  auto summary = engine_.Summary(id);
  if (!summary.ok()) co_return ErrorResponse(summary.status());
  auto events = journal_.ReadEvents(id);
  if (!events.ok()) co_return ErrorResponse(events.status());
  workflows::WorkflowView view = workflows::BuildView(*summary, *events);
  boost::system::error_code ec;
  json::value input = json::parse(view.input, ec);
  if (ec) input = json::value(view.input);
  if (*customer) {
    // A Portal sees only the workflows of its customer; another's is not revealed.
    const json::object* o = input.if_object();
    const json::value* owner = o ? o->if_contains("customerId") : nullptr;
    if (!owner || !owner->is_string() || owner->as_string() != **customer) {
      co_return ErrorResponse(404, "not_found", "workflow " + id + " not found");
    }
  }
  const proto::WorkflowSummary& s = *summary;
  json::object out = SummaryJson(s);
  out["updatedAt"] = Rfc3339(std::max(s.updated_ms(), view.updated_ms));
  out["input"] = std::move(input);
  out["result"] = s.status() == proto::COMPLETED ? json::value(s.result()) : json::value(nullptr);
  json::array steps;
  for (const auto& st : view.steps) {
    if (st.name.rfind("zlh.", 0) == 0) continue;  // recorded values (Now, Random), not steps
    steps.push_back(json::object{{"seq", st.step},
                                 {"name", st.name},
                                 {"status", st.status},
                                 {"attempts", st.attempts},
                                 {"startedAt", Rfc3339OrNull(st.started_ms)},
                                 {"completedAt", Rfc3339OrNull(st.completed_ms)},
                                 {"error", st.error.empty() ? json::value(nullptr) : json::value(st.error)}});
  }
  out["steps"] = std::move(steps);
  co_return JsonOk(200, out);
}

Task<Response> WorkflowApi::List(const Request& req) {
  if (auto refused = Refuse(tokens_, req, false, true)) co_return *refused;
  int status = 0;
  if (auto it = req.query.find("status"); it != req.query.end()) {
    status = workflows::StatusFromName(it->second);
    if (status == 0) {
      co_return ErrorResponse(InvalidArgument(
          "status: '" + it->second + "' is not queued, running, waiting, completed, failed or cancelled"));
    }
  }
  std::string type;
  if (auto it = req.query.find("type"); it != req.query.end()) type = it->second;
  auto paging = ReadPage(req);
  if (!paging.ok()) co_return ErrorResponse(paging.status());
  const size_t limit = paging->limit;
  const std::string& after = paging->after;

  // Newest first: ids are time-ordered, so a backward scan from the cursor is a page.
  json::array page;
  std::string last;
  bool more = false;
  Status read_error;
  auto take = [&](const std::string& id) {
    if (page.size() == limit) {
      more = true;
      return false;
    }
    auto summary = journal_.ReadSummary(id);
    if (!summary.ok()) {
      read_error = summary.status();
      return false;
    }
    if (!summary->has_value()) return true;
    if (!type.empty() && (*summary)->type() != type) return true;
    auto live = engine_.Summary(id);  // the live summary is exact; the stored one may lag
    page.push_back(SummaryJson(live.ok() ? *live : **summary));
    last = id;
    return true;
  };
  Status s;
  if (status != 0) {
    std::string prefix = journal::StatusIndexPrefix(status);
    s = journal_.ScanBefore(journal::Cf::kIndex, prefix, after.empty() ? "" : prefix + after,
                            [&](std::string_view k, std::string_view) {
                              return take(std::string(k.substr(prefix.size())));
                            });
  } else {
    s = journal_.ScanBefore(journal::Cf::kSummaries, "", after,
                            [&](std::string_view k, std::string_view) { return take(std::string(k)); });
  }
  if (!s.ok()) co_return ErrorResponse(s);
  if (!read_error.ok()) co_return ErrorResponse(read_error);
  json::object out{{"workflows", std::move(page)}};
  if (more) out["next"] = last;
  co_return JsonOk(200, out);
}

Task<Response> WorkflowApi::History(const Request& req, const PathParams& params) {
  if (auto refused = Refuse(tokens_, req, false, true)) co_return *refused;
  auto summary = Known(engine_, params);
  if (!summary.ok()) co_return ErrorResponse(summary.status());
  auto events = journal_.ReadEvents(params.at("id"));
  if (!events.ok()) co_return ErrorResponse(events.status());
  json::array out;
  for (const auto& e : *events) {
    json::object o = ProtoToJson(e);
    o["time"] = Rfc3339(e.time_ms());
    out.push_back(std::move(o));
  }
  co_return JsonOk(200, json::object{{"events", std::move(out)}});
}

Task<Response> WorkflowApi::Cancel(const Request& req, const PathParams& params) {
  if (auto refused = Refuse(tokens_, req, false, true)) co_return *refused;
  std::string reason = "cancelled by the operator";
  if (!req.body.empty()) {
    if (auto refused = RefuseMediaType(req)) co_return *refused;
    auto body = JsonBody::Parse(req.body, {"reason"});
    if (!body.ok()) co_return ErrorResponse(body.status());
    auto r = body->String("reason", false);
    if (!r.ok()) co_return ErrorResponse(r.status());
    if (*r) reason = **r;
  }
  Status s = co_await engine_.Cancel(params.at("id"), reason);
  if (!s.ok()) co_return ErrorResponse(s);
  auto summary = engine_.Summary(params.at("id"));
  co_return JsonOk(200, json::object{{"workflowId", params.at("id")},
                                     {"status", summary.ok() ? workflows::StatusName(summary->status())
                                                             : std::string("cancelled")}});
}

Task<Response> WorkflowApi::Signal(const Request& req, const PathParams& params) {
  if (auto refused = Refuse(tokens_, req, false, true)) co_return *refused;
  std::string payload;
  if (!req.body.empty()) {
    if (auto refused = RefuseMediaType(req)) co_return *refused;
    boost::system::error_code ec;
    json::value v = json::parse(req.body, ec);
    if (ec) co_return ErrorResponse(InvalidArgument("body: malformed JSON (" + ec.message() + ")"));
    payload = json::serialize(v);
  }
  Status s = co_await engine_.Signal(params.at("id"), params.at("name"), payload);
  if (!s.ok()) co_return ErrorResponse(s);
  co_return JsonOk(200, json::object{{"workflowId", params.at("id")}, {"signal", params.at("name")}});
}

Task<Response> WorkflowApi::Retry(const Request& req, const PathParams& params) {
  if (auto refused = Refuse(tokens_, req, false, true)) co_return *refused;
  workflows::RetryOptions options;
  if (!req.body.empty()) {
    if (auto refused = RefuseMediaType(req)) co_return *refused;
    auto body = JsonBody::Parse(req.body, {"confirmAtMostOnce"});
    if (!body.ok()) co_return ErrorResponse(body.status());
    auto confirm = body->Bool("confirmAtMostOnce", false);
    if (!confirm.ok()) co_return ErrorResponse(confirm.status());
    options.confirm_at_most_once = confirm->value_or(false);
  }
  Status s = co_await engine_.Retry(params.at("id"), options);
  if (!s.ok()) co_return ErrorResponse(s);
  co_return JsonOk(200, json::object{{"workflowId", params.at("id")}, {"status", "queued"}});
}

// The approval's signal payload: "" (as proposed), or {"fromTemplate": true}, which lets a
// rebuild_container repair of a server with no backup clone its template (an empty world).
Result<std::string> WorkflowApi::ApprovalPayload(const Request& req, const std::string& id) {
  if (req.body.empty()) return std::string();
  auto body = JsonBody::Parse(req.body, {"fromTemplate"});
  if (!body.ok()) return body.status();
  auto from_template = body->Bool("fromTemplate", false);
  if (!from_template.ok()) return from_template.status();
  if (!from_template->value_or(false)) return std::string();
  auto events = journal_.ReadEvents(id);
  if (!events.ok()) return events.status();
  std::string repair;
  if (!events->empty() && events->front().has_workflow_started()) {
    boost::system::error_code ec;
    json::value input = json::parse(events->front().workflow_started().input(), ec);
    const json::value* r = !ec && input.is_object() ? input.as_object().if_contains("repair") : nullptr;
    if (r && r->is_string()) repair = r->as_string();
  }
  if (repair != "rebuild_container") {
    return InvalidArgument("fromTemplate: only a rebuild_container repair may start from a template; " +
                           id + " is " + (repair.empty() ? "not one" : repair));
  }
  return json::serialize(json::object{{"fromTemplate", true}});
}

Task<Response> WorkflowApi::Approve(const Request& req, const PathParams& params) {
  if (auto refused = Refuse(tokens_, req, false, true)) co_return *refused;
  if (auto refused = req.body.empty() ? std::nullopt : RefuseMediaType(req)) co_return *refused;
  auto summary = Known(engine_, params, "workflowId");
  if (!summary.ok()) co_return ErrorResponse(summary.status());
  if (summary->type() != "repair") {
    co_return ErrorResponse(404, "not_found", "no repair workflow " + params.at("workflowId"));
  }
  if (summary->waiting_for().kind() != "signal" || summary->waiting_for().detail() != "approve") {
    co_return ErrorResponse(409, "conflict", "repair " + params.at("workflowId") +
                                                 " is not waiting for an approval");
  }
  auto approval = ApprovalPayload(req, params.at("workflowId"));
  if (!approval.ok()) co_return ErrorResponse(approval.status());
  Status s = co_await engine_.Signal(params.at("workflowId"), "approve", *approval);
  if (!s.ok()) co_return ErrorResponse(s);
  co_return JsonOk(200, json::object{{"workflowId", params.at("workflowId")}, {"approved", true}});
}

}  // namespace zlh::api
