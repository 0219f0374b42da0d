// The operator's view and control of the hypervisor's nodes (SPEC §9.2, §7.1): GET /api/nodes
// lists every node with its status, drain, live servers and memory; a PUT of
// /api/nodes/{node}/maintenance {on, reason} drains a node (placement puts no new server on it) or
// ends its drain, recorded durably with an input on the node's system stream before it answers.
//
// Thread-safety: handlers run on the engine's thread.
#pragma once

#include <string>
#include <vector>

#include "activities/hypervisor.h"
#include "api/router.h"
#include "api/tokens.h"
#include "config/config.h"
#include "journal/journal.h"

namespace zlh::api {

class NodeApi {
 public:
  // Everything must outlive the NodeApi. `hypervisor` may be null (no fleet wired, as in tests of
  // the routes alone): what needs it then answers 503.
  NodeApi(journal::Journal& journal, const config::Settings& settings, const Tokens& tokens,
          activities::Hypervisor* hypervisor);
  void AddRoutes(Router& router);

 private:
  Task<Response> List(const Request& req);
  Task<Response> Maintenance(const Request& req, const PathParams& params);
  // The hypervisor's nodes; kUnavailable when it does not answer (or there is none).
  Task<Result<std::vector<activities::HostNode>>> Reported();
  // OK when `node` may be drained (`on`) or undrained: a node the hypervisor reports, or — to end
  // a drain — one with a drain on record (a node since removed from the cluster). kNotFound
  // naming the reported nodes otherwise.
  Task<Status> CheckNode(const std::string& node, bool on);

  journal::Journal& journal_;
  const config::Settings& settings_;
  const Tokens& tokens_;
  activities::Hypervisor* hypervisor_;
};

}  // namespace zlh::api
