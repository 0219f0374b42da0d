// The operator's and the outside world's inputs of SPEC §7.1 that are not workflows: maintenance
// on/off, a checkpoint of the journal (POST /api/admin/backup), and the billing webhook (HMAC
// signed, idempotent by event id, durably recorded before it answers).
//
// Thread-safety: handlers run on the engine's thread.
#pragma once

#include <functional>

#include "api/router.h"
#include "api/tokens.h"
#include "base/clock.h"
#include "journal/journal.h"

namespace zlh::api {

class AdminApi {
 public:
  // `now` gives the webhook's clock (seconds since the epoch); tests may move it.
  AdminApi(journal::Journal& journal, const Tokens& tokens, std::string webhook_secret,
           std::function<int64_t()> now_seconds = nullptr);
  void AddRoutes(Router& router);

 private:
  Task<Response> Maintenance(const Request& req, const PathParams& params);
  Task<Response> Backup(const Request& req);
  Task<Response> BillingWebhook(const Request& req);
  // Appends `txn` durably; the status of the write (or of the transaction).
  Task<Status> Write(journal::TxnFn txn);

  journal::Journal& journal_;
  const Tokens& tokens_;
  std::string webhook_secret_;
  std::function<int64_t()> now_seconds_;
};

// The X-ZLH-Signature check: "t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>", at most
// 5 minutes from `now_seconds`. kInvalidArgument saying what is wrong otherwise.
Status CheckWebhookSignature(const std::string& header, const std::string& body,
                             const std::string& secret, int64_t now_seconds);
// The header a sender computes (tests, tools).
std::string SignWebhook(const std::string& body, const std::string& secret, int64_t t);

}  // namespace zlh::api
