// The operator's and the outside world's inputs of SPEC §7.1 that are not workflows: maintenance
// on/off, a checkpoint of the journal (POST /api/admin/backup, into a new directory under the
// backup root, taken on a thread of its own), and the billing webhook (HMAC signed, idempotent by
// event id, durably recorded before it answers). A first-time invoice.payment_failed records a
// #alerts-billing notification in the same write; every 401 the webhook answers is noted in a
// SignatureWatch, and writes nothing.
//
// Thread-safety: handlers run on the engine's thread; a checkpoint runs on the AdminApi's own
// thread, joined by its destructor.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <filesystem>
#include <functional>

#include "api/router.h"
#include "api/signature_watch.h"
#include "api/tokens.h"
#include "base/clock.h"
#include "journal/journal.h"

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
  // `backup_root`: the directory every backup goes under (created when absent). `now` gives the
  // webhook's clock (seconds since the epoch); tests may move it.
  AdminApi(journal::Journal& journal, const Tokens& tokens, std::string webhook_secret,
           std::string backup_root, BillingHooks hooks = {},
           std::function<int64_t()> now_seconds = nullptr);
  void AddRoutes(Router& router);

 private:
  Task<Response> Maintenance(const Request& req, const PathParams& params);
  Task<Response> Backup(const Request& req);
  Task<Response> BillingWebhook(const Request& req);
  // The journal's checkpoint into `dir`, taken on backup_thread_.
  Task<Status> CheckpointOffLoop(std::string dir);

  journal::Journal& journal_;
  const Tokens& tokens_;
  std::string webhook_secret_;
  std::string backup_root_;
  BillingHooks hooks_;
  std::function<int64_t()> now_seconds_;
  boost::asio::thread_pool backup_thread_{1};  // last: joined before the rest is destroyed
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
