// crash_worker: the child process of the crash tests. Opens the journal, recovers, starts the
// workflows listed in the spec file (deduplicated by name, so a restarted worker does not start
// them twice), runs until all have ended and exits 0. Every step execution appends a line
// "<workflow id> <step> <attempt> <incarnation>" to the effects file before it returns.
//
// usage: crash_worker DATA_DIR SPEC_FILE EFFECTS_FILE INCARNATION
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <memory>
#include <string>

#include "journal/journal.h"
#include "scheduler/queues.h"
#include "tests/crash_shape.h"
#include "workflows/engine.h"

namespace {

namespace asio = boost::asio;
using namespace zlh;
using workflows::Context;
using workflows::StepInfo;
using workflows::Task;

std::string g_effects;
std::string g_incarnation;

void RecordEffect(const StepInfo& info) {
  std::string line = info.workflow_id + " " + std::to_string(info.step) + " " +
                     std::to_string(info.attempt) + " " + g_incarnation + "\n";
  int fd = open(g_effects.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0 || write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    std::abort();
  }
  close(fd);
}

Task<Result<std::string>> RunShape(Context& ctx) {
  std::vector<crash::StepShape> steps = crash::ParseShape(ctx.input());
  std::string out;
  for (size_t i = 0; i < steps.size(); ++i) {
    const crash::StepShape s = steps[i];
    std::string name = std::string(1, s.kind) + std::to_string(i + 1);
    std::string expected = crash::StepResult(s, i);
    if (s.kind == 'z') {
      ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(s.param)));
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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: crash_worker DATA_DIR SPEC_FILE EFFECTS_FILE INCARNATION\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::err);
  g_effects = argv[3];
  g_incarnation = argv[4];
  auto journal = journal::Journal::Open(argv[1]);
  if (!journal.ok()) {
    std::fprintf(stderr, "crash_worker: %s\n", journal.status().ToString().c_str());
    return 3;
  }
  std::vector<std::pair<std::string, std::string>> spec;  // (name, shape)
  std::ifstream in(argv[2]);
  std::string name, shape;
  while (in >> name >> shape) spec.emplace_back(name, shape);

  workflows::Registry registry;
  (void)registry.Register("shape", "crash", RunShape);
  scheduler::Queues queues({{"crash", 2}});  // some wait in the queue
  workflows::EngineOptions options;
  options.admission = &queues;
  asio::io_context io(1);
  auto engine = std::make_unique<workflows::Engine>(io, **journal, registry, options);
  queues.Attach(*engine);
  int exit_code = 0;
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        Status s = co_await engine->Recover();
        if (!s.ok()) {
          std::fprintf(stderr, "crash_worker: recover: %s\n", s.ToString().c_str());
          exit_code = 1;
          io.stop();
          co_return;
        }
        std::vector<std::string> ids;
        for (const auto& [wf_name, wf_shape] : spec) {
          workflows::StartRequest request{"shape", wf_shape, wf_name};
          auto started = co_await engine->Start(std::move(request));
          if (!started.ok()) {
            std::fprintf(stderr, "crash_worker: start: %s\n", started.status().ToString().c_str());
            exit_code = 1;
            break;
          }
          ids.push_back(started->id);
        }
        for (const std::string& id : ids) (void)co_await engine->AwaitTerminal(id);
        io.stop();
      },
      asio::detached);
  io.run();
  engine.reset();  // before the journal, which it unhooks itself from
  journal->reset();
  return exit_code;
}
