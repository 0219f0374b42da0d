#include "sim/sim_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>

namespace zlh::sim {

namespace asio = boost::asio;

Result<std::unique_ptr<SimServer>> SimServer::Open(asio::io_context& io, std::string host,
                                                   uint16_t port, std::string state_file,
                                                   std::vector<std::string> nodes, Millis latency) {
  auto world = World::Open(std::move(state_file), std::move(nodes));
  if (!world.ok()) return world.status();
  api::ServerOptions options;
  options.host = std::move(host);
  options.port = port;
  options.body_limit = 1 << 20;
  return std::unique_ptr<SimServer>(
      new SimServer(io, std::move(options), std::move(*world), latency));
}

SimServer::SimServer(asio::io_context& io, api::ServerOptions options,
                     std::unique_ptr<World> world, Millis latency)
    : world_(std::move(world)),
      latency_(std::make_shared<Millis>(latency)),
      host_(options.host),
      http_(io, options, [this, &io](const api::Request& req) -> api::Task<api::Response> {
        HttpReply reply =
            world_->Handle({req.method, req.path, req.query, req.headers, req.body});
        int64_t wait = std::max<int64_t>(reply.delay_ms, latency_->count());
        if (wait > 0) {
          asio::steady_timer delay(io, std::chrono::milliseconds(wait));
          co_await delay.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        api::Response r;
        r.status = reply.status;
        r.body = std::move(reply.body);
        r.content_type = reply.content_type;
        r.reason = std::move(reply.reason);
        for (auto& header : reply.headers) r.headers.emplace_back(std::move(header));
        co_return r;
      }) {}

Result<std::string> SimServer::Start() {
  auto port = http_.Listen();
  if (!port.ok()) return port.status();
  http_.Start();
  return "http://" + host_ + ":" + std::to_string(*port);
}

api::Task<void> SimServer::Stop(Millis deadline) { co_await http_.Stop(deadline); }

}  // namespace zlh::sim
