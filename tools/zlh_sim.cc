// zlh-sim: the simulated outside world (SPEC §7.4) over real HTTP, for tests and demos. Its state
// is written to --state after every change, so it outlives a killed zlhd (and itself).
//
// Prints "listening on http://HOST:PORT" on stdout once it accepts connections. Exit codes: 0 on
// SIGTERM/SIGINT; 2 bad usage, an unreadable state file or an address it cannot listen on.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "sim/sim_server.h"

namespace {

namespace asio = boost::asio;
using zlh::api::Task;

constexpr char kUsage[] =
    "usage: zlh-sim [--listen HOST:PORT] [--state FILE] [--nodes pve1,pve2]\n"
    "\n"
    "Serves the subsets of Proxmox VE, the agent, the proxy, DNS, billing, backups and Discord\n"
    "that zlh-flow's activities call, plus GET /sim/state, POST /sim/faults, POST /sim/containers.\n"
    "\n"
    "  --listen HOST:PORT  default 127.0.0.1:9090 (port 0: a free one)\n"
    "  --state FILE        where the world is kept (default: in memory only)\n"
    "  --nodes LIST        the hypervisor nodes (default pve1,pve2)\n";

[[noreturn]] void UsageError(const std::string& message) {
  std::fprintf(stderr, "zlh-sim: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("zlh-sim"));
  std::string host = "127.0.0.1", state_file;
  uint16_t port = 9090;
  std::vector<std::string> nodes = {"pve1", "pve2"};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) UsageError(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--listen") {
      auto listen = zlh::api::ParseListenAddress(value());
      if (!listen.ok()) UsageError("--listen: " + listen.status().message());
      host = listen->host;
      port = listen->port;
    } else if (arg == "--state") {
      state_file = value();
    } else if (arg == "--nodes") {
      nodes.clear();
      std::stringstream list(value());
      for (std::string n; std::getline(list, n, ',');) {
        if (!n.empty()) nodes.push_back(n);
      }
    } else {
      UsageError("unknown argument '" + arg + "'");
    }
  }
  asio::io_context io(1);
  auto sim = zlh::sim::SimServer::Open(io, host, port, state_file, nodes);
  if (!sim.ok()) {
    std::fprintf(stderr, "zlh-sim: %s\n", sim.status().ToString().c_str());
    return 2;
  }
  auto url = (*sim)->Start();
  if (!url.ok()) {
    std::fprintf(stderr, "zlh-sim: %s\n", url.status().message().c_str());
    return 2;
  }
  std::printf("listening on %s\n", url->c_str());
  std::fflush(stdout);
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    asio::co_spawn(io, [&]() -> Task<void> {
      co_await (*sim)->Stop(zlh::Millis(2'000));
      io.stop();
    }, asio::detached);
  });
  io.run();
  return 0;
}
