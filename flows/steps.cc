#include "flows/steps.h"

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

}  // namespace zlh::flows
