// The Portal's server routes of SPEC §7.1: create (provision), operations, delete (deprovision),
// server reads. Checks
// run in the order of §7.1: 401, 413 (the server), 415, 400, the dedup key (the same request
// answers 200 with the first answer; a different one 409 naming the first differing field),
// 403/404, 429 and 409 for a taken name.
//
// Thread-safety: handlers run on the engine's thread (the HTTP server shares its io_context).
#pragma once

#include "api/router.h"
#include "api/tokens.h"
#include "config/config.h"
#include "journal/journal.h"
#include "workflows/engine.h"

namespace zlh::api {

class ServerApi {
 public:
  // Everything must outlive the ServerApi.
  ServerApi(workflows::Engine& engine, journal::Journal& journal, const config::Settings& settings,
            const Tokens& tokens);

  // Adds the routes to `router` (which must not outlive this).
  void AddRoutes(Router& router);

 private:
  Task<Response> Create(const Request& req);
  Task<Response> Operate(const Request& req, const PathParams& params);
  Task<Response> Delete(const Request& req, const PathParams& params);
  Task<Response> ListServers(const Request& req);
  // The admin's unfiltered list, paged like the workflows' (limit, after → next).
  Response ListEveryServer(const Request& req);
  Task<Response> GetServer(const Request& req, const PathParams& params);

  workflows::Engine& engine_;
  journal::Journal& journal_;
  const config::Settings& settings_;
  const Tokens& tokens_;
};

}  // namespace zlh::api
