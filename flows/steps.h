// Helpers shared by the ZLH workflows: retry policies from the config, the CallContext an activity
// gets from a step, the names and addresses a server is known by, and the steps that record a
// notification in the outbox. Internal to flows/ and controller/.
#pragma once

#include <string>
#include <vector>

#include "activities/hypervisor.h"
#include "activities/services.h"
#include "config/config.h"
#include "fleet/outbox.h"
#include "flows/flows.h"
#include "proto/domain.pb.h"
#include "workflows/context.h"
#include "workflows/retry_policy.h"

namespace zlh::flows {

// An activity step: retried with backoff on what may pass (no answer, 5xx); each attempt is
// bounded by the activity's own timeouts.
workflows::RetryPolicy ActivityPolicy(const config::Settings& settings);
// A compensation step: tried harder, since giving up leaves something behind.
workflows::RetryPolicy CompensationPolicy(const config::Settings& settings);

activities::CallContext CallOf(const workflows::StepInfo& info);

// The agent of `server`'s container: its VMID and recorded address.
activities::AgentTarget AgentOf(const proto::Server& server);
// Where the proxy sends players to `server`: "<address>:<gamePort>" (SPEC §5.1); "" when no
// address is recorded.
std::string ProxyAddressOf(const config::Settings& settings, const proto::Server& server);
// The A record's content for `server`: the container's address for dev, the proxy's public
// address for games.
std::string ARecordOf(const config::Settings& settings, const proto::Server& server);

// "survival.play.example"
std::string Fqdn(const config::Settings& settings, const std::string& name);
// "_minecraft._tcp.survival.play.example"
std::string SrvName(const config::Settings& settings, const std::string& name);

// A notification a workflow decides (SPEC §6.5): where it goes, what it says, whether it pings,
// and whether it is the daily digest (which email may carry too).
struct Message {
  std::string channel;
  std::string text;
  bool ping = false;
  bool digest = false;
};

// Records `message` in the outbox within `txn` (SPEC §10), keyed `key` (its Discord nonce and
// email Message-ID derive from it), as recorded by step `info` of its workflow. Errors as
// fleet::EnqueueNotification's (an empty text is kInvalidArgument).
Result<uint64_t> EnqueueMessage(journal::Txn& txn, const workflows::StepInfo& info,
                                const Message& message, std::string key);

// Step `name`: records `message` in the outbox in the same write as the step's completion, keyed
// by the step's idempotency key — the key the step used when it posted to Discord itself, so a
// history recorded then keeps its nonce. Its result is "queued <id>"; a history that recorded the
// step (even as the post it once was) returns that, recording nothing again. Then tells
// `d.notified`. The workflow never waits on delivery. Errors: the step's (a journal failure is
// the context's fatal error).
workflows::Task<Status> Notify(const Deps& d, workflows::Context& ctx, std::string name,
                               Message message);
// Step `name`, as Notify, with `message.text` from `text` first (an activity: retried per
// `policy`, not recorded, its failure for good the step's).
workflows::Task<Status> NotifyPrepared(const Deps& d, workflows::Context& ctx, std::string name,
                                       workflows::StepFn text, Message message,
                                       workflows::RetryPolicy policy);
// Step `name`: records each of `messages` in the outbox in the step's write, the i-th keyed
// "<idempotency key>#i" (one Discord message each, as the step once posted them). As Notify.
workflows::Task<Status> NotifyAll(const Deps& d, workflows::Context& ctx, std::string name,
                                  std::vector<Message> messages);

}  // namespace zlh::flows
