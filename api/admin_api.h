// The operator's and the outside world's inputs of SPEC §7.1 that are not workflows: maintenance
// on/off, a backup of the journal (POST /api/admin/backup: a checkpoint and the tokens file, into
// a new directory under the backup root, taken off the event loop by backup::Keeper), and the
// billing webhook (HMAC signed, idempotent by
// event id, durably recorded before it answers). A first-time invoice.payment_failed records a
// #alerts-billing notification in the same write; every 401 the webhook answers is noted in a
// SignatureWatch, and writes nothing.
//
// Thread-safety: handlers run on the engine's thread; a backup runs on the Keeper's thread.
#pragma once

#include <filesystem>
#include <functional>

#include "api/router.h"
#include "api/signature_watch.h"
#include "api/tokens.h"
#include "base/clock.h"
#include "journal/journal.h"

namespace zlh::backup {
class Keeper;
}

namespace zlh::api {

// What the billing webhook tells beyond its answer. Both may be null.
struct BillingHooks {
  // Runs once a webhook's write has recorded a notification (zlhd: the dispatcher's Wake).
  std::function<void()> notified;
  // Notes every bad signature; must outlive the AdminApi.
  SignatureWatch* signatures = nullptr;
};

class AdminApi {
 public:
  // `webhook_secret`: the config's billing.webhookSecret; "" for the tokens file's (`tokens`'
  // webhook secret, read at each request, so that a reload's new one applies at once).
  // `backups`: where backups go (under its root, created when absent) and the thread they are
  // taken on; null: POST /api/admin/backup answers 503. It must outlive the AdminApi. `now` gives
  // the webhook's clock (seconds since the epoch); tests may move it.
  AdminApi(journal::Journal& journal, const Tokens& tokens, std::string webhook_secret,
           backup::Keeper* backups, BillingHooks hooks = {},
           std::function<int64_t()> now_seconds = nullptr);
  void AddRoutes(Router& router);

 private:
  Task<Response> Maintenance(const Request& req, const PathParams& params);
  Task<Response> Backup(const Request& req);
  Task<Response> BillingWebhook(const Request& req);

  journal::Journal& journal_;
  const Tokens& tokens_;
  std::string webhook_secret_;
  backup::Keeper* backups_;
  BillingHooks hooks_;
  std::function<int64_t()> now_seconds_;
};

// Where POST /api/admin/backup {dir} writes: `dir` relative to `root`, or absolute inside it; a
// directory that does not exist yet, whose parent (symlinks resolved) is `root` or under it, with
// no ".." anywhere. kInvalidArgument naming the problem otherwise; kIOError when `root` cannot be
// created.
Result<std::filesystem::path> BackupTarget(const std::filesystem::path& root, const std::string& dir);

// The X-ZLH-Signature check: "t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>", at most
// 5 minutes from `now_seconds`, under a secret of config::kMinWebhookSecret characters or more.
// kInvalidArgument saying what is wrong otherwise (a malformed or hostile header included).
Status CheckWebhookSignature(const std::string& header, const std::string& body,
                             const std::string& secret, int64_t now_seconds);
// The header's form alone (no secret, no body): kInvalidArgument when it cannot be a signature.
Status CheckSignatureHeaderShape(const std::string& header);
// The header a sender computes (tests, tools).
std::string SignWebhook(const std::string& body, const std::string& secret, int64_t t);

}  // namespace zlh::api
