// The inputs of the ZLH workflows as recorded in their WorkflowStarted events (JSON), and the
// starts that record them with their domain rows in one write (the create / operation / delete
// requests of SPEC §7.1 call these after validating).
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "base/status.h"
#include "config/config.h"
#include "proto/domain.pb.h"
#include "workflows/engine.h"

namespace zlh::flows {

struct ProvisionInput {
  std::string server_id;
  std::string customer_id;
  std::string ctype;  // game, dev
  std::string name;
  std::string game;
  std::string plan;
  std::string request_nonce;
};

struct OperationInput {
  std::string server_id;
  std::string customer_id;
  std::string op;  // start, stop, restart, backup, restore
  std::string request_nonce;
  std::string backup_id;  // restore: which backup ("" = the newest)
  std::string reason;     // "portal", "billing", ...
};

std::string ToJson(const ProvisionInput& in);
Result<ProvisionInput> ParseProvisionInput(const std::string& json);
std::string ToJson(const OperationInput& in);
Result<OperationInput> ParseOperationInput(const std::string& json);

// The start of a provisioning: the workflow, its dedup key (customerId + ctype + requestNonce) and
// the server record (status queued, no VMID) in one write. The transaction refuses a name taken by
// a live server (kAlreadyExists, "name: ...") and a customer at the quota of live servers
// (kQuotaExceeded).
workflows::StartRequest ProvisionStart(const ProvisionInput& in, const config::Settings& settings);
std::string ProvisionDedupKey(const ProvisionInput& in);
// An operation's start: dedup key serverId + op + requestNonce.
workflows::StartRequest OperationStart(const OperationInput& in);
// A deprovision's start: dedup key by serverId.
workflows::StartRequest DeprovisionStart(const std::string& server_id,
                                         const std::string& customer_id);

}  // namespace zlh::flows
