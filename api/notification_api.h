// The notification outbox as the operator reads it (SPEC §10, §7.1): GET /api/notifications
// (admin) lists the entries, newest first, paged, by status (pending, delivered, failed) and
// channel, each with its deliveries — Discord, and email when a rule sent it there — and their
// attempts, parts, next try and last answer.
//
// Thread-safety: handlers run on the engine's thread.
#pragma once

#include "api/router.h"
#include "api/tokens.h"
#include "journal/journal.h"

namespace zlh::api {

class NotificationApi {
 public:
  // Both must outlive the NotificationApi.
  NotificationApi(const journal::Journal& journal, const Tokens& tokens);
  void AddRoutes(Router& router);

 private:
  Task<Response> List(const Request& req);

  const journal::Journal& journal_;
  const Tokens& tokens_;
};

}  // namespace zlh::api
