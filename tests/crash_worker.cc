// crash_worker: the child process of the crash tests. Opens the journal, recovers, starts the
// workflows listed in the spec file (deduplicated by name, so a restarted worker does not start
// them twice), runs until all have ended and exits 0. Every step execution appends a line
// "<workflow id> <step> <attempt> <incarnation>" to the effects file before it returns.
//
// usage: crash_worker DATA_DIR SPEC_FILE EFFECTS_FILE INCARNATION
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <memory>
#include <string>

#include "journal/journal.h"
#include "scheduler/queues.h"
#include "tests/crash_shape.h"
#include "tests/shape_workflow.h"
#include "workflows/engine.h"

namespace asio = boost::asio;
using namespace zlh;
using workflows::Task;

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: crash_worker DATA_DIR SPEC_FILE EFFECTS_FILE INCARNATION\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::err);
  crash::SetEffectsFile(argv[3], argv[4]);
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
  (void)registry.Register("shape", "crash", crash::RunShape);
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
        // Each signal wait gets its "go" (a restarted worker sends them again: the surplus
        // stays unconsumed).
        for (size_t i = 0; i < ids.size(); ++i) {
          for (const crash::StepShape& step : crash::ParseShape(spec[i].second)) {
            if (step.kind == 'w') (void)co_await engine->Signal(ids[i], "go", "go");
          }
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
