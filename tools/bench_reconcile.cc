#include "tools/bench_reconcile.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <type_traits>

#include "base/clock.h"
#include "base/ipv4.h"
#include "config/config.h"
#include "controller/controller.h"
#include "controller/observation.h"
#include "fleet/tables.h"
#include "flows/flows.h"
#include "flows/steps.h"
#include "tools/bench_stats.h"
#include "tools/bench_world.h"

namespace zlh::bench {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// The first failure of the fleet's set-up: a benchmark over a half-built fleet measures nothing,
// so it stops and says what failed instead of printing numbers.
class SetupErrors {
 public:
  template <typename R>
  void Check(const R& r, const std::string& what) {
    Status s;
    if constexpr (std::is_same_v<R, Status>) {
      s = r;
    } else {
      s = r.status();
    }
    if (!s.ok() && first_.ok()) first_ = s.WithContext(what);
  }
  const Status& first() const { return first_; }

 private:
  Status first_;
};

}  // namespace

int BenchReconcile(const std::string& dir, long servers, long latency_ms, long concurrency,
                   const Baseline& baseline) {
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

  SetupErrors setup;
  long rows_pending = 0;    // server rows appended whose result has not reached the io thread
  bool populated = false;   // every server's set-up has been started
  asio::steady_timer rows_done(io, std::chrono::hours(1));  // cancelled when the last row is in
  int code = 0;
  double seconds = 0;
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
                  int64_t vmid = 10000 + i;  // above the templates (9000...)
                  std::string name = "s" + std::to_string(i);
                  // The loopback pool's addresses, one each (as provisioning would record them).
                  std::string address =
                      FormatIpv4(*ParseIpv4("127.1.0.10") + static_cast<uint32_t>(i));
                  activities::CallContext c{"bench:" + name, 0};
                  const char* node = i % 2 ? "pve2" : "pve1";
                  setup.Check(co_await deps.hypervisor->Clone(c, "pve1", 9000, node, vmid, name),
                              "clone " + name);
                  setup.Check(co_await deps.hypervisor->Start(c, node, vmid), "start " + name);
                  setup.Check(co_await deps.dns->Publish(
                                  c, {"", "A", flows::Fqdn(world->settings, name), px.public_address()}),
                              "DNS A of " + name);
                  setup.Check(co_await deps.dns->Publish(
                                  c, {"", "SRV", flows::SrvName(world->settings, name),
                                      "0 5 " + std::to_string(px.public_port()) + " " + px.public_host()}),
                              "DNS SRV of " + name);
                  setup.Check(co_await deps.proxy->Register(
                                  c, name, address + ":" + std::to_string(px.game_port())),
                              "proxy route of " + name);
                  setup.Check(co_await deps.backups->Run(c, node, vmid), "backup of " + name);
                  // The game runs, as a provisioning leaves it (else every server is drift).
                  setup.Check(co_await deps.agent->Workload(c, {vmid, address}, true),
                              "game of " + name);
                  proto::Server s;
                  s.set_server_id("srv-" + std::to_string(i));
                  s.set_customer_id("c" + std::to_string(i));
                  s.set_ctype("game");
                  s.set_name(name);
                  s.set_vmid(vmid);
                  s.set_address(address);
                  s.set_node(i % 2 ? "pve2" : "pve1");
                  s.set_status(proto::SERVER_RUNNING);
                  s.set_created_ms(NowMs());
                  ++rows_pending;
                  world->journal->Append(
                      {}, [s](journal::Txn& t) { return fleet::PutServer(t, s); },
                      [&, name](Status put) {
                        // On the writer thread: hand the result to the io thread.
                        asio::post(io, [&, name, put] {
                          setup.Check(put, "server row of " + name);
                          if (--rows_pending == 0 && populated) rows_done.cancel();
                        });
                      });
                }
                if (--running == 0) done.cancel();
              },
              asio::detached);
        }
        if (running > 0) co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
        populated = true;
        if (rows_pending > 0) co_await rows_done.async_wait(asio::as_tuple(asio::use_awaitable));
        if (!setup.first().ok()) {
          code = 1;
          co_await world->sim->Stop(Millis(1'000));
          io.stop();
          co_return;
        }
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
        }
        co_await engine.Drain(Millis(1'000));
        co_await world->sim->Stop(Millis(1'000));
        io.stop();
      },
      asio::detached);
  io.run();
  if (!setup.first().ok()) {
    std::fprintf(stderr, "zlh-bench: setting up the fleet failed: %s\n",
                 setup.first().ToString().c_str());
    return 1;
  }
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
  if (!events.ok()) {
    std::fprintf(stderr, "zlh-bench: cannot read the tick's record: %s\n",
                 events.status().ToString().c_str());
    return 1;
  }
  std::optional<size_t> decisions;  // from the tick's recorded diff: what it decided
  for (const auto& e : *events) {
    recorded_bytes += e.ByteSizeLong();
    if (e.has_step_completed() && e.step_completed().name() == "diff") {
      auto parsed = controller::ParseDecisions(e.step_completed().result());
      if (!parsed.ok()) {
        std::fprintf(stderr, "zlh-bench: the tick's recorded decisions do not parse: %s\n",
                     parsed.status().ToString().c_str());
        return 1;
      }
      decisions = parsed->size();
    }
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
  if (!decisions) {
    std::fprintf(stderr, "zlh-bench: the tick's record holds no diff step\n");
    return 1;
  }
  std::printf("engine=zlh-flow bench=reconcile servers=%ld latency_ms=%ld concurrency=%ld "
              "tick_s=%.2f decisions=%zu rss_mb=%.0f record_kb=%.1f%s%s\n",
              servers, latency_ms, concurrency, seconds, *decisions, PeakRssMb(),
              static_cast<double>(recorded_bytes) / 1024, steps.c_str(),
              BaselineFields(baseline).c_str());
  return 0;
}

}  // namespace zlh::bench
