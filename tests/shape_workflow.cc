#include "tests/shape_workflow.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include "tests/crash_shape.h"

namespace zlh::crash {
namespace {

using workflows::Context;
using workflows::StepInfo;
using workflows::Task;

std::string g_effects;
std::string g_incarnation;
bool g_renamed = false;

void RecordEffect(const StepInfo& info) {
  if (g_effects.empty()) return;
  std::string line = info.workflow_id + " " + std::to_string(info.step) + " " +
                     std::to_string(info.attempt) + " " + g_incarnation + "\n";
  int fd = open(g_effects.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0 || write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    std::abort();
  }
  close(fd);
}

}  // namespace

void SetEffectsFile(std::string path, std::string incarnation) {
  g_effects = std::move(path);
  g_incarnation = std::move(incarnation);
}

void UseRenamedSteps() { g_renamed = true; }

Task<Result<std::string>> RunShape(Context& ctx) {
  std::vector<crash::StepShape> steps = crash::ParseShape(ctx.input());
  std::string out;
  for (size_t i = 0; i < steps.size(); ++i) {
    const crash::StepShape s = steps[i];
    std::string name = (g_renamed ? "renamed-" : "") + std::string(1, s.kind) + std::to_string(i + 1);
    std::string expected = crash::StepResult(s, i);
    if (s.kind == 'z') {
      ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(s.param)));
      continue;
    }
    if (s.kind == 'w') {
      auto signal = co_await ctx.WaitSignal("go", Millis(60'000));
      if (!signal.ok()) co_return signal.status();
      out += expected;
      continue;
    }
    Result<std::string> r = Internal("unset");
    if (s.kind == 't') {
      r = co_await ctx.TxnStep(name, [expected](journal::Txn& txn,
                                                const StepInfo& info) -> Result<std::string> {
        std::string row = crash::TxnRow(info.workflow_id, info.step);
        auto existing = txn.Get(journal::Cf::kDomain, row);
        if (!existing.ok()) return existing.status();
        if (existing->has_value()) return Internal("transaction applied twice");
        txn.Put(journal::Cf::kDomain, row, "1");
        return expected;
      });
    } else {
      workflows::RetryPolicy policy;
      if (s.kind == 'a') {
        policy = workflows::RetryPolicy::AtMostOnce();
      } else {
        policy.max_attempts = crash::kMaxAttempts;
        policy.initial_backoff = Millis(5);
      }
      uint32_t failures = s.param;
      r = co_await ctx.Step(
          name,
          [expected, failures](const StepInfo& info) -> Task<Result<std::string>> {
            RecordEffect(info);
            if (info.attempt <= failures) co_return Unavailable("injected failure");
            co_return expected;
          },
          policy);
    }
    if (!r.ok()) co_return r.status();
    out += *r;
  }
  co_return out;
}

}  // namespace zlh::crash
