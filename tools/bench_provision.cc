#include "tools/bench_provision.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <vector>

#include "base/ids.h"
#include "config/config.h"
#include "flows/inputs.h"
#include "journal/journal.h"
#include "scheduler/queues.h"
#include "tools/bench_driver.h"
#include "tools/bench_world.h"
#include "tools/bench_stats.h"
#include "workflows/engine.h"

namespace zlh::bench {
namespace asio = boost::asio;

int BenchProvision(const std::string& dir, long servers, long concurrency,
                   const Baseline& baseline) {
  // The plan's memory is tiny so that thousands of servers fit the simulator's two 64 GiB nodes
  // (placement weighs memory); the calls a provisioning makes are those of a real plan.
  auto settings = config::Parse(R"({"timing": {"readinessProbeInterval": "10ms"},
                                    "proxmox": {"taskPollInterval": "1ms"},
                                    "vmids": {"first": 100, "last": 999999},
                                    "plans": [{"name": "small", "cores": 2, "memoryMb": 16,
                                               "swapMb": 512, "diskGb": 20}]})");
  if (!settings.ok()) return 1;
  settings->file.set_servers_per_customer(1'000'000);
  auto world = BenchWorld::Make(dir, *settings);
  if (!world) return 1;
  asio::io_context& io = world->io;
  scheduler::Queues queues({{"provision", static_cast<uint32_t>(concurrency)}});
  workflows::EngineOptions options;
  options.admission = &queues;
  workflows::Engine engine(io, *world->journal, world->registry, options);
  queues.Attach(engine);
  world->deps.engine = &engine;

  double cpu0 = ProcessCpuSeconds();
  DriveResult run = Drive(
      io, engine, servers, concurrency,
      [&](long i) {
        flows::ProvisionInput in{NewId(), "bench", "game", "s" + std::to_string(i), "vanilla",
                                 "small", "n" + std::to_string(i)};
        return flows::ProvisionStart(in, world->settings);
      },
      [&]() -> workflows::Task<void> { co_await world->sim->Stop(Millis(1'000)); });
  // The whole process: the engine and the simulated world it calls over loopback HTTP.
  double cpu_us = (ProcessCpuSeconds() - cpu0) * 1e6 / static_cast<double>(servers);
  if (run.failures > 0) {
    std::fprintf(stderr, "zlh-bench: %ld provisionings did not complete\n", run.failures);
    return 1;
  }
  journal::WriterStats ws = world->journal->writer_stats();
  std::fprintf(stderr, "journal: %lu synced writes for %ld provisionings\n",
               static_cast<unsigned long>(ws.groups), servers);
  std::printf("engine=zlh-flow bench=provision servers=%ld concurrency=%ld provisionings_per_s=%.0f "
              "p50_ms=%.2f p99_ms=%.2f writes_per_provisioning=%.1f cpu_us_per_wf=%.0f rss_mb=%.0f%s\n",
              servers, concurrency, static_cast<double>(servers) / run.seconds,
              Percentile(run.latencies_ms, 50), Percentile(run.latencies_ms, 99),
              static_cast<double>(ws.groups) / static_cast<double>(servers), cpu_us, PeakRssMb(),
              BaselineFields(baseline).c_str());
  return 0;
}

}  // namespace zlh::bench
