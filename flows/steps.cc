#include "flows/steps.h"

#include "base/clock.h"

namespace zlh::flows {

workflows::RetryPolicy ActivityPolicy(const config::Settings& settings) {
  workflows::RetryPolicy p;
  p.max_attempts = 8;
  p.initial_backoff = Millis(200);
  p.max_backoff = Millis(30'000);
  // No attempt_timeout: an abandoned attempt would outlive the workflow state it refers to. Each
  // activity bounds its own calls (request and task timeouts from the config).
  (void)settings;
  return p;
}

workflows::RetryPolicy CompensationPolicy(const config::Settings& settings) {
  workflows::RetryPolicy p = ActivityPolicy(settings);
  p.max_attempts = 12;
  return p;
}

activities::CallContext CallOf(const workflows::StepInfo& info) {
  return {info.idempotency_key, info.fencing_token};
}

activities::AgentTarget AgentOf(const proto::Server& server) {
  return {server.vmid(), server.address()};
}

std::string ProxyAddressOf(const config::Settings& settings, const proto::Server& server) {
  if (server.address().empty()) return "";
  return server.address() + ":" + std::to_string(settings.file.proxy().game_port());
}

std::string ARecordOf(const config::Settings& settings, const proto::Server& server) {
  return server.ctype() == "dev" ? server.address() : settings.file.proxy().public_address();
}

std::string Fqdn(const config::Settings& settings, const std::string& name) {
  return name + "." + settings.file.dns().zone();
}

std::string SrvName(const config::Settings& settings, const std::string& name) {
  return "_minecraft._tcp." + Fqdn(settings, name);
}

Result<uint64_t> EnqueueMessage(journal::Txn& txn, const workflows::StepInfo& info,
                                const Message& message, std::string key) {
  fleet::Intent intent;
  intent.key = std::move(key);
  intent.channel = message.channel;
  intent.content = message.text;
  intent.ping = message.ping;
  intent.digest = message.digest;
  intent.origin = proto::ORIGIN_WORKFLOW;
  intent.source = info.workflow_id;
  intent.source_step = info.step;
  return fleet::EnqueueNotification(txn, intent, NowMs());
}

namespace {

// A notify step's body: records `messages` keyed by the step's idempotency key ("#i" appended to
// the i-th when `numbered`), the first's text from the step's prepare call when `prepared`.
workflows::TxnStepFn Enqueuing(std::vector<Message> messages, bool numbered, bool prepared) {
  return [messages = std::move(messages), numbered, prepared](
             journal::Txn& t, const workflows::StepInfo& info) -> Result<std::string> {
    std::string ids;
    for (size_t i = 0; i < messages.size(); ++i) {
      Message told = messages[i];
      if (prepared && i == 0) told.text = info.prepared;
      std::string key = info.idempotency_key;
      if (numbered) key += "#" + std::to_string(i);
      auto id = EnqueueMessage(t, info, told, std::move(key));
      if (!id.ok()) return id.status();
      ids += " " + std::to_string(*id);
    }
    return "queued" + ids;
  };
}

// The outcome of a notify step: OK once recorded (the dispatcher told), else its error.
Status Queued(const Deps& d, const Result<std::string>& recorded) {
  if (!recorded.ok()) return recorded.status();
  if (d.notified) d.notified();
  return Status::Ok();
}

}  // namespace

workflows::Task<Status> Notify(const Deps& d, workflows::Context& ctx, std::string name,
                               Message message) {
  std::vector<Message> one{std::move(message)};
  co_return Queued(d,
                   co_await ctx.TxnStep(std::move(name), Enqueuing(std::move(one), false, false)));
}

workflows::Task<Status> NotifyPrepared(const Deps& d, workflows::Context& ctx, std::string name,
                                       workflows::StepFn text, Message message,
                                       workflows::RetryPolicy policy) {
  std::vector<Message> one{std::move(message)};
  co_return Queued(d,
                   co_await ctx.TxnStep(std::move(name), std::move(text),
                                        Enqueuing(std::move(one), false, true), std::move(policy)));
}

workflows::Task<Status> NotifyAll(const Deps& d, workflows::Context& ctx, std::string name,
                                  std::vector<Message> messages) {
  co_return Queued(
      d, co_await ctx.TxnStep(std::move(name), Enqueuing(std::move(messages), true, false)));
}

}  // namespace zlh::flows
