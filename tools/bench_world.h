// BenchWorld: what zlh-bench's workflow benchmarks share — a journal, the simulated world served
// in-process over loopback, settings pointed at it, the HTTP activities, and the ZLH and
// controller workflows registered. Benchmarks add their engine (destroyed before this).
// Not thread-safe.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "config/config.h"
#include "controller/controller.h"
#include "flows/flows.h"
#include "flows/outside.h"
#include "journal/journal.h"
#include "sim/sim_server.h"

namespace zlh::bench {

struct BenchWorld {
  // Prints what went wrong and returns null on failure.
  static std::unique_ptr<BenchWorld> Make(const std::string& dir, config::Settings settings) {
    auto w = std::make_unique<BenchWorld>();
    auto journal = journal::Journal::Open(dir);
    if (!journal.ok()) {
      std::fprintf(stderr, "zlh-bench: %s\n", journal.status().ToString().c_str());
      return nullptr;
    }
    w->journal = std::move(*journal);
    auto server = sim::SimServer::Open(w->io, "127.0.0.1", 0, "", {"pve1", "pve2"});
    if (!server.ok()) return nullptr;
    w->sim = std::move(*server);
    auto url = w->sim->Start();
    if (!url.ok()) return nullptr;
    w->settings = std::move(settings);
    config::PointAtFleet(w->settings, *url);
    w->outside = std::make_unique<flows::Outside>(w->settings);
    w->deps = w->outside->MakeDeps();
    w->deps.journal = w->journal.get();
    if (!flows::Register(w->registry, w->deps).ok() ||
        !controller::Register(w->registry, w->deps).ok()) {
      return nullptr;
    }
    return w;
  }

  boost::asio::io_context io{1};
  std::unique_ptr<journal::Journal> journal;
  std::unique_ptr<sim::SimServer> sim;
  config::Settings settings;
  std::unique_ptr<flows::Outside> outside;
  flows::Deps deps;
  workflows::Registry registry;
};

}  // namespace zlh::bench
