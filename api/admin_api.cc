#include "api/admin_api.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "api/billing_alerts.h"
#include "api/errors.h"
#include "api/handlers.h"
#include "api/json_body.h"
#include "backup/keeper.h"
#include "config/config.h"
#include "fleet/outbox.h"
#include "fleet/tables.h"
#include "journal/append_durably.h"

namespace zlh::api {
namespace {

namespace json = boost::json;

constexpr int64_t kWebhookTolerance = 300;  // seconds

std::string Hex(const unsigned char* data, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 15]);
  }
  return out;
}

constexpr char kPaymentFailed[] = "invoice.payment_failed";

// What a billing event does to the customer's status ("" records it only).
std::optional<std::string> StatusAfter(const std::string& type) {
  if (type == "customer.suspended") return "suspended";
  if (type == "customer.reactivated" || type == "invoice.paid") return "active";
  if (type == kPaymentFailed) return "";
  return std::nullopt;
}

// A billing webhook's body, checked.
struct BillingEvent {
  std::string id, type, customer, created;
  std::string status;  // StatusAfter(type)
};

// kInvalidArgument naming the field for a body that is not one of the four events.
Result<BillingEvent> ParseBillingEvent(const std::string& text) {
  auto body = JsonBody::Parse(text, {"id", "type", "customerId", "createdAt"});
  if (!body.ok()) return body.status();
  BillingEvent e;
  std::pair<const char*, std::string*> fields[] = {
      {"id", &e.id}, {"type", &e.type}, {"customerId", &e.customer}, {"createdAt", &e.created}};
  for (auto& [name, field] : fields) {
    auto v = body->String(name, true);
    if (!v.ok()) return v.status();
    *field = **v;
  }
  ZLH_RETURN_IF_ERROR(CheckIdentifier("id", e.id));
  ZLH_RETURN_IF_ERROR(CheckIdentifier("customerId", e.customer));
  auto status = StatusAfter(e.type);
  if (!status) {
    return InvalidArgument("type: '" + e.type +
                           "' is not customer.suspended, customer.reactivated, invoice.paid or "
                           "invoice.payment_failed");
  }
  e.status = *status;
  return e;
}

}  // namespace

Result<std::filesystem::path> BackupTarget(const std::filesystem::path& root, const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path asked(dir);
  for (const auto& part : asked) {
    if (part == "..") return InvalidArgument("dir: must not contain '..'");
  }
  std::error_code ec;
  fs::create_directories(root, ec);
  fs::path real_root = fs::canonical(root, ec);
  if (ec) return Status(Code::kIOError, "backup root " + root.string() + ": " + ec.message());
  fs::path target = asked.is_absolute() ? asked.lexically_normal() : (real_root / asked).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();  // "x/" names x
  // The parent, with every symlink resolved, must be the root or inside it.
  fs::path parent = fs::canonical(target.parent_path(), ec);
  if (ec || !fs::is_directory(parent)) {
    return InvalidArgument("dir: the parent directory of " + target.string() + " does not exist");
  }
  fs::path inside = parent.lexically_relative(real_root);
  if (inside.empty() || *inside.begin() == "..") {
    return InvalidArgument("dir: must be a new directory under the backup root " + real_root.string());
  }
  if (fs::exists(fs::symlink_status(target, ec))) {
    return InvalidArgument("dir: " + target.string() + " already exists");
  }
  return parent / target.filename();
}

std::string SignWebhook(const std::string& body, const std::string& secret, int64_t t) {
  std::string signed_text = std::to_string(t) + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac, &len);
  return "t=" + std::to_string(t) + ",v1=" + Hex(mac, len);
}

namespace {

// A header's parts: one "t=<1-12 digits>" and one or more "v1=<64 lowercase hex>" (several v1
// while a sender rotates its secret). Parsed without arithmetic on untrusted text: no part can
// overflow, and anything else is refused.
struct SignatureHeader {
  int64_t t = -1;
  std::vector<std::string> v1;
};

bool AllOf(std::string_view s, bool (*ok)(char)) {
  return std::all_of(s.begin(), s.end(), ok);
}

Result<SignatureHeader> ParseSignatureHeader(std::string_view header) {
  const Status malformed = InvalidArgument("X-ZLH-Signature: expected t=<unix seconds>,v1=<hex>");
  SignatureHeader out;
  size_t parts = 0;
  for (size_t i = 0; i <= header.size(); ++parts) {
    if (parts == 8) return malformed;  // more parts than any sender writes
    size_t comma = std::min(header.find(',', i), header.size());
    std::string_view part = header.substr(i, comma - i);
    i = comma + 1;
    if (part.rfind("t=", 0) == 0) {
      std::string_view digits = part.substr(2);
      bool ok = !digits.empty() && digits.size() <= 12 && out.t < 0 &&
                AllOf(digits, [](char c) { return c >= '0' && c <= '9'; });
      if (!ok) return malformed;
      std::from_chars(digits.data(), digits.data() + digits.size(), out.t);
    } else if (part.rfind("v1=", 0) == 0) {
      std::string_view hex = part.substr(3);
      bool ok = hex.size() == 64 &&
                AllOf(hex, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
      if (!ok) return malformed;
      out.v1.emplace_back(hex);
    } else {
      return malformed;
    }
  }
  if (out.t < 0 || out.v1.empty()) return malformed;
  return out;
}

}  // namespace

Status CheckSignatureHeaderShape(const std::string& header) {
  if (header.empty()) return InvalidArgument("X-ZLH-Signature: required");
  return ParseSignatureHeader(header).status();
}

Status CheckWebhookSignature(const std::string& header, const std::string& body,
                             const std::string& secret, int64_t now_seconds) {
  if (secret.size() < config::kMinWebhookSecret) {
    return InvalidArgument("the billing webhook has no usable secret configured");
  }
  ZLH_RETURN_IF_ERROR(CheckSignatureHeaderShape(header));
  auto parsed = ParseSignatureHeader(header);
  if (!parsed.ok()) return parsed.status();
  int64_t skew = 0;
  if (__builtin_sub_overflow(now_seconds, parsed->t, &skew) || skew > kWebhookTolerance ||
      skew < -kWebhookTolerance) {
    return InvalidArgument("X-ZLH-Signature: timestamp outside the 5-minute tolerance");
  }
  std::string expected = SignWebhook(body, secret, parsed->t);
  std::string want = expected.substr(expected.find("v1=") + 3);
  for (const std::string& v1 : parsed->v1) {
    if (CRYPTO_memcmp(want.data(), v1.data(), want.size()) == 0) return Status::Ok();
  }
  return InvalidArgument("X-ZLH-Signature: signature does not match");
}

AdminApi::AdminApi(journal::Journal& journal, const Tokens& tokens, std::string webhook_secret,
                   backup::Keeper* backups, BillingHooks hooks,
                   std::function<int64_t()> now_seconds)
    : journal_(journal),
      tokens_(tokens),
      webhook_secret_(std::move(webhook_secret)),
      backups_(backups),
      hooks_(std::move(hooks)),
      now_seconds_(now_seconds ? std::move(now_seconds) : [] { return NowMs() / 1000; }) {}

void AdminApi::AddRoutes(Router& router) {
  router.Add("PUT", "/api/servers/{serverId}/maintenance",
             [this](const Request& r, const PathParams& p) { return Maintenance(r, p); });
  router.Add("POST", "/api/admin/backup", [this](const Request& r, const PathParams&) { return Backup(r); });
  router.Add("POST", "/api/billing/webhook",
             [this](const Request& r, const PathParams&) { return BillingWebhook(r); });
}

Task<Response> AdminApi::Maintenance(const Request& req, const PathParams& params) {
  if (auto refused = Refuse(tokens_, req, false, true)) co_return *refused;
  if (auto refused = RefuseMediaType(req)) co_return *refused;
  auto body = ParseMaintenanceSwitch(req.body);
  if (!body.ok()) co_return ErrorResponse(body.status());
  const std::string& id = params.at("serverId");
  proto::Maintenance m;
  m.set_server_id(id);
  m.set_on(body->on);
  m.set_reason(body->reason);
  m.set_since_ms(NowMs());
  std::string payload = body->Payload();
  Status s = co_await journal::AppendDurably(journal_, [m, payload](journal::Txn& t) -> Status {
    auto server = fleet::GetServer(t, m.server_id());
    if (!server.ok()) return server.status();
    if (!server->has_value() || (*server)->status() == proto::SERVER_DELETED) {
      return NotFound("server " + m.server_id() + " not found");
    }
    return fleet::SetMaintenance(t, m, payload);
  });
  if (!s.ok()) co_return ErrorResponse(s);
  co_return JsonOk(200, json::object{{"serverId", id},
                                     {"on", m.on()},
                                     {"reason", m.reason()},
                                     {"since", Rfc3339(m.since_ms())}});
}

Task<Response> AdminApi::Backup(const Request& req) {
  if (auto refused = Refuse(tokens_, req, false, true)) co_return *refused;
  if (auto refused = RefuseMediaType(req)) co_return *refused;
  auto body = JsonBody::Parse(req.body, {"dir"});
  if (!body.ok()) co_return ErrorResponse(body.status());
  auto dir = body->String("dir", true);
  if (!dir.ok()) co_return ErrorResponse(dir.status());
  if (!backups_) co_return ErrorResponse(Status(Code::kUnavailable, "this node keeps no backups"));
  auto target = BackupTarget(backups_->place().root, **dir);
  if (!target.ok()) co_return ErrorResponse(target.status());
  // Not verified here: a verification reads the whole journal, longer than a request should take.
  // zlh-journal restore verifies a backup before it restores it.
  auto taken = co_await backups_->Take(target->string(), backup::Origin::kApi, false);
  Status s = taken.status();
  if (s.code() == Code::kAlreadyExists) s = InvalidArgument("dir: " + s.message());
  if (!s.ok()) co_return ErrorResponse(s);
  co_return JsonOk(200, json::object{{"path", target->string()},
                                     {"takenAt", Rfc3339(taken->marker.taken_ms)},
                                     {"tokens", taken->marker.tokens}});
}

Task<Response> AdminApi::BillingWebhook(const Request& req) {
  const std::string& secret = webhook_secret_.empty() ? tokens_.webhook_secret() : webhook_secret_;
  Status signature =
      CheckWebhookSignature(req.Header("x-zlh-signature"), req.body, secret, now_seconds_());
  if (!signature.ok()) {
    if (hooks_.signatures) hooks_.signatures->Refused();
    co_return ErrorResponse(401, "unauthenticated", signature.message());
  }
  if (auto refused = RefuseMediaType(req)) co_return *refused;
  auto event = ParseBillingEvent(req.body);
  if (!event.ok()) co_return ErrorResponse(event.status());
  // A failed payment is told once, in the write that applies its event: a redelivery applies
  // nothing and tells nothing.
  std::optional<fleet::Intent> alert;
  if (event->type == kPaymentFailed) {
    alert = PaymentFailedIntent(event->id, event->customer, event->created);
  }
  auto applied = std::make_shared<bool>(false);
  Status s = co_await journal::AppendDurably(
      journal_, [e = *event, alert, applied, payload = req.body](journal::Txn& t) -> Status {
        auto r = fleet::ApplyBillingEvent(t, e.id, e.customer, e.status, payload);
        if (!r.ok()) return r.status();
        *applied = *r;
        if (!*r || !alert) return Status::Ok();
        return fleet::EnqueueNotification(t, *alert, NowMs()).status();
      });
  if (!s.ok()) co_return ErrorResponse(s);
  if (*applied && alert && hooks_.notified) hooks_.notified();
  co_return JsonOk(200, json::object{{"id", event->id}, {"applied", *applied}});
}

}  // namespace zlh::api
