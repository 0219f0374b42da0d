#include "flows/inputs.h"

#include <boost/json.hpp>

#include "base/clock.h"
#include "fleet/tables.h"

namespace zlh::flows {
namespace {

namespace json = boost::json;

std::string Field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
}

Result<json::object> Object(const std::string& text, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return Status(Code::kCorruption, std::string(what) + " input is not a JSON object");
  }
  return std::move(v.as_object());
}

}  // namespace

std::string ToJson(const ProvisionInput& in) {
  return json::serialize(json::object{{"serverId", in.server_id},
                                      {"customerId", in.customer_id},
                                      {"ctype", in.ctype},
                                      {"name", in.name},
                                      {"game", in.game},
                                      {"plan", in.plan},
                                      {"requestNonce", in.request_nonce}});
}

Result<ProvisionInput> ParseProvisionInput(const std::string& text) {
  auto o = Object(text, "provision");
  if (!o.ok()) return o.status();
  ProvisionInput in{Field(*o, "serverId"), Field(*o, "customerId"), Field(*o, "ctype"),
                    Field(*o, "name"),     Field(*o, "game"),       Field(*o, "plan"),
                    Field(*o, "requestNonce")};
  if (in.server_id.empty()) return Status(Code::kCorruption, "provision input: no serverId");
  return in;
}

std::string ToJson(const OperationInput& in) {
  return json::serialize(json::object{{"serverId", in.server_id},
                                      {"customerId", in.customer_id},
                                      {"op", in.op},
                                      {"requestNonce", in.request_nonce},
                                      {"backupId", in.backup_id},
                                      {"reason", in.reason}});
}

Result<OperationInput> ParseOperationInput(const std::string& text) {
  auto o = Object(text, "operation");
  if (!o.ok()) return o.status();
  OperationInput in{Field(*o, "serverId"), Field(*o, "customerId"), Field(*o, "op"),
                    Field(*o, "requestNonce"), Field(*o, "backupId"), Field(*o, "reason")};
  if (in.server_id.empty()) return Status(Code::kCorruption, "operation input: no serverId");
  return in;
}

std::string ProvisionDedupKey(const ProvisionInput& in) {
  return "provision\x1f" + in.customer_id + "\x1f" + in.ctype + "\x1f" + in.request_nonce;
}

workflows::StartRequest ProvisionStart(const ProvisionInput& in, const config::Settings& settings) {
  workflows::StartRequest req;
  req.type = "provision";
  req.input = ToJson(in);
  req.dedup_key = ProvisionDedupKey(in);
  uint32_t quota = settings.file.servers_per_customer();
  req.txn = [in, quota](journal::Txn& t, const std::string& workflow_id) -> Status {
    auto live = fleet::LiveServerCount(t, in.customer_id);
    if (!live.ok()) return live.status();
    if (*live >= quota) {
      return Status(Code::kQuotaExceeded, "customer " + in.customer_id + " has " +
                                              std::to_string(*live) + " live servers (quota " +
                                              std::to_string(quota) + ")");
    }
    auto named = fleet::ServerNamed(t, in.name);
    if (!named.ok()) return named.status();
    if (named->has_value()) {
      return Status(Code::kAlreadyExists, "name: '" + in.name + "' is taken by a live server");
    }
    auto existing = fleet::GetServer(t, in.server_id);
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) {
      return Status(Code::kAlreadyExists, "server " + in.server_id + " exists");
    }
    proto::Server s;
    s.set_server_id(in.server_id);
    s.set_customer_id(in.customer_id);
    s.set_ctype(in.ctype);
    s.set_name(in.name);
    s.set_game(in.game);
    s.set_plan(in.plan);
    s.set_status(proto::SERVER_QUEUED);
    s.set_created_ms(NowMs());
    s.set_provision_workflow(workflow_id);
    return fleet::PutServer(t, std::move(s));
  };
  return req;
}

workflows::StartRequest OperationStart(const OperationInput& in) {
  workflows::StartRequest req;
  req.type = "operation";
  req.input = ToJson(in);
  req.dedup_key = "operation\x1f" + in.server_id + "\x1f" + in.op + "\x1f" + in.request_nonce;
  return req;
}

workflows::StartRequest DeprovisionStart(const std::string& server_id,
                                         const std::string& customer_id) {
  workflows::StartRequest req;
  req.type = "deprovision";
  OperationInput in{server_id, customer_id, "delete", "", "", "portal"};
  req.input = ToJson(in);
  req.dedup_key = "deprovision\x1f" + server_id;
  return req;
}

}  // namespace zlh::flows
