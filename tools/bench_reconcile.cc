#include "tools/bench_reconcile.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>

#include "activities/agent_http.h"
#include "base/clock.h"
#include "config/config.h"
#include "controller/controller.h"
#include "fleet/tables.h"
#include "flows/flows.h"
#include "flows/steps.h"
#include "tools/bench_stats.h"
#include "tools/bench_world.h"

namespace zlh::bench {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

int BenchReconcile(const std::string& dir, long servers, long latency_ms, long concurrency) {
  auto settings = config::Parse(R"({"proxmox": {"taskPollInterval": "1ms"},
                                    "vmids": {"first": 100, "last": 999999}})");
  if (!settings.ok()) return 1;
  settings->observe_concurrency = static_cast<uint32_t>(concurrency);
  auto world = BenchWorld::Make(dir, *settings);
  if (!world) return 1;
  asio::io_context& io = world->io;
  flows::Deps& deps = world->deps;
  workflows::Engine engine(io, *world->journal, world->registry, {});
  deps.engine = &engine;

  int code = 0;
  double seconds = 0;
  size_t decisions = 0;
  std::string tick_id;
  asio::co_spawn(
      io,
      [&]() -> workflows::Task<void> {
        // The fleet: N healthy servers in the tables and in the world, made through the same
        // HTTP activities the workflows use, `concurrency` at a time.
        std::fprintf(stderr, "populating %ld servers...\n", servers);
        long next = 0, running = concurrency;
        asio::steady_timer done(io, std::chrono::hours(1));
        const auto& px = world->settings.file.proxy();
        for (long w = 0; w < concurrency; ++w) {
          asio::co_spawn(
              io,
              [&]() -> workflows::Task<void> {
                while (next < servers) {
                  long i = next++;
                  int64_t vmid = 100 + i;
                  std::string name = "s" + std::to_string(i);
                  activities::CallContext c{"bench:" + name, 0};
                  (void)co_await deps.hypervisor->Clone(c, "pve1", 9000, i % 2 ? "pve2" : "pve1", vmid, name);
                  (void)co_await deps.hypervisor->Start(c, i % 2 ? "pve2" : "pve1", vmid);
                  (void)co_await deps.dns->Publish(c, {"", "A", flows::Fqdn(world->settings, name), px.public_address()});
                  (void)co_await deps.dns->Publish(
                      c, {"", "SRV", flows::SrvName(world->settings, name),
                          "0 5 " + std::to_string(px.public_port()) + " " + px.public_host()});
                  (void)co_await deps.proxy->Register(
                      c, name, activities::ContainerAddress(vmid) + ":" + std::to_string(px.game_port()));
                  (void)co_await deps.backups->Run(c, i % 2 ? "pve2" : "pve1", vmid);  // backed up
                  proto::Server s;
                  s.set_server_id("srv-" + std::to_string(i));
                  s.set_customer_id("c" + std::to_string(i));
                  s.set_ctype("game");
                  s.set_name(name);
                  s.set_vmid(vmid);
                  s.set_node(i % 2 ? "pve2" : "pve1");
                  s.set_status(proto::SERVER_RUNNING);
                  s.set_created_ms(NowMs());
                  world->journal->Append({}, [s](journal::Txn& t) { return fleet::PutServer(t, s); },
                                     [](Status) {});
                }
                if (--running == 0) done.cancel();
              },
              asio::detached);
        }
        if (running > 0) co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
        // Now the tick, against a world that answers after `latency`.
        world->sim->SetLatency(Millis(latency_ms));
        std::fprintf(stderr, "reconciling...\n");
        auto t0 = Clock::now();
        auto started = co_await engine.Start(controller::ReconcileStart(1));
        if (!started.ok()) {
          code = 1;
        } else {
          tick_id = started->id;
          auto end = co_await engine.AwaitTerminal(started->id);
          seconds = std::chrono::duration<double>(Clock::now() - t0).count();
          if (!end.ok() || end->status() != proto::COMPLETED) code = 1;
          if (end.ok()) decisions = static_cast<size_t>(std::count(end->result().begin(), end->result().end(), '{'));
        }
        co_await engine.Drain(Millis(1'000));
        co_await world->sim->Stop(Millis(1'000));
        io.stop();
      },
      asio::detached);
  io.run();
  if (code != 0) {
    std::fprintf(stderr, "zlh-bench: the reconcile did not complete\n");
    return code;
  }
  // Where the tick's time went: each step's, from the previous record to its own (steps run one
  // after another).
  std::string steps;
  auto events = world->journal->ReadEvents(tick_id);
  int64_t last = 0;
  size_t recorded_bytes = 0;  // what the tick adds to the journal
  for (const auto& e : events.ok() ? *events : std::vector<proto::Event>()) {
    recorded_bytes += e.ByteSizeLong();
    if (e.has_workflow_started() || e.has_step_completed()) {
      if (e.has_step_completed() && last > 0) {
        char part[96];
        std::snprintf(part, sizeof part, " %s_s=%.2f", e.step_completed().name().c_str(),
                      static_cast<double>(e.time_ms() - last) / 1000);
        steps += part;
      }
      last = e.time_ms();
    }
  }
  std::printf("engine=zlh-flow bench=reconcile servers=%ld latency_ms=%ld concurrency=%ld "
              "tick_s=%.2f decisions=%zu rss_mb=%.0f record_kb=%.1f%s\n",
              servers, latency_ms, concurrency, seconds, decisions, PeakRssMb(),
              static_cast<double>(recorded_bytes) / 1024, steps.c_str());
  return 0;
}

}  // namespace zlh::bench
