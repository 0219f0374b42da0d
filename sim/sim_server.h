// SimServer: the simulated outside world (sim/sim_world.h) served over HTTP — by zlh-sim,
// and by zlhd in-process when it runs without --fleet (its state kept in the data directory).
// Injected latency and timeouts hold a request without blocking the others.
//
// Thread-safety: runs on one io_context; Start and Stop on its thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "sim/sim_world.h"

namespace zlh::sim {

class SimServer {
 public:
  // Opens the world (`state_file` may be empty: memory only). Errors from World::Open.
  // `latency`: every answer is held this long (zlh-bench's slow-world runs).
  static Result<std::unique_ptr<SimServer>> Open(boost::asio::io_context& io, std::string host,
                                                 uint16_t port, std::string state_file,
                                                 std::vector<std::string> nodes,
                                                 Millis latency = Millis(0));
  // Binds, listens and starts serving; "http://HOST:PORT".
  Result<std::string> Start();
  api::Task<void> Stop(Millis deadline);
  // Every answer from now on is held at least `latency`.
  void SetLatency(Millis latency) { *latency_ = latency; }

 private:
  SimServer(boost::asio::io_context& io, api::ServerOptions options, std::unique_ptr<World> world,
            Millis latency);

  std::unique_ptr<World> world_;
  std::shared_ptr<Millis> latency_;
  std::string host_;
  api::HttpServer http_;
};

}  // namespace zlh::sim
