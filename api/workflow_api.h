// The workflow routes of SPEC §7.1: reads (one workflow as a view of its steps, a page of the list,
// the raw history) and the operator's actions (cancel, signal, retry, approve a repair).
//
// Thread-safety: handlers run on the engine's thread.
#pragma once

#include "api/router.h"
#include "api/tokens.h"
#include "journal/journal.h"
#include "workflows/engine.h"

namespace zlh::api {

class WorkflowApi {
 public:
  WorkflowApi(workflows::Engine& engine, journal::Journal& journal, const Tokens& tokens);
  void AddRoutes(Router& router);

 private:
  Task<Response> Get(const Request& req, const PathParams& params);
  Task<Response> List(const Request& req);
  Task<Response> History(const Request& req, const PathParams& params);
  Task<Response> Cancel(const Request& req, const PathParams& params);
  Task<Response> Signal(const Request& req, const PathParams& params);
  Task<Response> Retry(const Request& req, const PathParams& params);
  Task<Response> Approve(const Request& req, const PathParams& params);
  Result<std::string> ApprovalPayload(const Request& req, const std::string& id);

  workflows::Engine& engine_;
  journal::Journal& journal_;
  const Tokens& tokens_;
};

}  // namespace zlh::api
