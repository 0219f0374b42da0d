#include "api/node_api.h"

#include <boost/json.hpp>

#include "api/errors.h"
#include "api/handlers.h"
#include "base/clock.h"
#include "fleet/tables.h"
#include "journal/append_durably.h"
#include "flows/capacity.h"

namespace zlh::api {
namespace {

namespace json = boost::json;

json::object NodeJson(const flows::NodeState& n) {
  return json::object{{"node", n.name},
                      {"status", n.status},
                      {"drained", n.drained},
                      {"drainReason", n.drain_reason},
                      {"drainedSince", Rfc3339OrNull(n.drained_since_ms)},
                      {"servers", n.servers},
                      {"committedMemoryMb", n.committed_mb},
                      {"maxmemMb", n.maxmem_mb},
                      {"memoryLimitMb", n.limit_mb}};
}

}  // namespace

NodeApi::NodeApi(journal::Journal& journal, const config::Settings& settings, const Tokens& tokens,
                 activities::Hypervisor* hypervisor)
    : journal_(journal), settings_(settings), tokens_(tokens), hypervisor_(hypervisor) {}

void NodeApi::AddRoutes(Router& router) {
  router.Add("GET", "/api/nodes", [this](const Request& r, const PathParams&) { return List(r); });
  router.Add("PUT", "/api/nodes/{node}/maintenance",
             [this](const Request& r, const PathParams& p) { return Maintenance(r, p); });
}

Task<Result<std::vector<activities::HostNode>>> NodeApi::Reported() {
  if (!hypervisor_) co_return Unavailable("no hypervisor is configured");
  auto nodes = co_await hypervisor_->Nodes();
  if (!nodes.ok()) {
    co_return Unavailable("the hypervisor did not answer: " + nodes.status().message());
  }
  co_return nodes;
}

Task<Response> NodeApi::List(const Request& req) {
  if (auto refused = Refuse(tokens_, req, false, true)) co_return *refused;
  auto reported = co_await Reported();
  if (!reported.ok()) co_return ErrorResponse(reported.status());
  auto drains = fleet::ListNodeDrains(journal_);
  if (!drains.ok()) co_return ErrorResponse(drains.status());
  auto use = fleet::LiveUsePerNode(journal_);
  if (!use.ok()) co_return ErrorResponse(use.status());
  json::array nodes;
  for (const auto& n : flows::NodeStates(settings_, *reported, *drains, *use)) {
    nodes.push_back(NodeJson(n));
  }
  co_return JsonOk(200, json::object{{"memoryOvercommit", settings_.memory_overcommit},
                                     {"nodes", std::move(nodes)}});
}

Task<Status> NodeApi::CheckNode(const std::string& node, bool on) {
  if (!on) {
    auto drains = fleet::ListNodeDrains(journal_);
    if (!drains.ok()) co_return drains.status();
    for (const auto& d : *drains) {
      if (d.node() == node && d.on()) co_return Status::Ok();  // ending it needs no hypervisor
    }
  }
  auto reported = co_await Reported();
  if (!reported.ok()) co_return reported.status();
  std::string names;
  for (const auto& n : *reported) {
    if (n.name == node) co_return Status::Ok();
    names += (names.empty() ? "" : ", ") + n.name;
  }
  co_return NotFound("node '" + node + "' is not one the hypervisor reports (" +
                     (names.empty() ? "it reports none" : names) + ")");
}

Task<Response> NodeApi::Maintenance(const Request& req, const PathParams& params) {
  if (auto refused = Refuse(tokens_, req, false, true)) co_return *refused;
  if (auto refused = RefuseMediaType(req)) co_return *refused;
  auto body = ParseMaintenanceSwitch(req.body);
  if (!body.ok()) co_return ErrorResponse(body.status());
  const std::string& node = params.at("node");
  if (Status known = co_await CheckNode(node, body->on); !known.ok())
    co_return ErrorResponse(known);
  proto::NodeDrain drain;
  drain.set_node(node);
  drain.set_on(body->on);
  drain.set_reason(body->reason);
  drain.set_since_ms(NowMs());
  Status s = co_await journal::AppendDurably(journal_, [drain, payload = body->Payload()](journal::Txn& t) {
    return fleet::SetNodeDrain(t, drain, payload);
  });
  if (!s.ok()) co_return ErrorResponse(s);
  co_return JsonOk(200, json::object{{"node", node},
                                     {"on", drain.on()},
                                     {"reason", drain.reason()},
                                     {"since", Rfc3339(drain.since_ms())}});
}

}  // namespace zlh::api
