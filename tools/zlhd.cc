// zlhd: the zlh-flow daemon. Opens the journal, resumes every unfinished workflow, serves HTTP
// and runs the engine until SIGTERM or SIGINT, when it stops accepting connections, lets
// in-flight requests and steps finish (progress is durable either way) and exits 0.
//
// Exit codes: 0 clean stop; 2 bad usage or configuration (an address it cannot listen on);
// 3 journal unusable (held by another process, newer format, corrupt).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "api/http_server.h"
#include "journal/journal.h"
#include "scheduler/queues.h"
#include "workflows/engine.h"
#include "workflows/registry.h"

namespace {

namespace asio = boost::asio;
using zlh::workflows::Task;

constexpr char kUsage[] =
    "usage: zlhd [--data DIR] [--listen HOST:PORT]\n"
    "\n"
    "Runs the zlh-flow engine: resumes every unfinished workflow of the journal in DIR, serves\n"
    "HTTP and runs workflows until SIGTERM/SIGINT.\n"
    "\n"
    "  --data DIR          the data directory (default ./zlh-data; created when absent); the\n"
    "                      journal is DIR/journal\n"
    "  --listen HOST:PORT  the HTTP address (default 127.0.0.1:8080; port 0 picks a free one);\n"
    "                      the address listened on is written to DIR/zlhd.addr\n"
    "  --help              this text\n"
    "\n"
    "HTTP: GET /healthz (200 while the journal is healthy, 503 once it has failed).\n"
    "Exit codes: 0 clean stop; 2 bad usage or configuration; 3 journal unusable.\n";

struct Flags {
  std::string data = "zlh-data";
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
};

[[noreturn]] void UsageError(const std::string& message) {
  std::fprintf(stderr, "zlhd: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

// Parses argv; on a usage error prints it and exits 2, on --help prints usage and exits 0.
Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) UsageError(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--data") {
      flags.data = value();
    } else if (arg == "--listen") {
      auto listen = zlh::api::ParseListenAddress(value());
      if (!listen.ok()) UsageError("--listen: " + listen.status().message());
      flags.host = listen->host;
      flags.port = listen->port;
    } else {
      UsageError("unknown argument '" + arg + "'");
    }
  }
  return flags;
}

// Writes `text` to `path` atomically (a temporary file renamed over it).
bool WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!(out << text)) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

zlh::api::Response Json(int status, std::string body) {
  zlh::api::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags = ParseFlags(argc, argv);
  // Logs go to stderr, one line per event; stdout stays free for what a caller may parse.
  spdlog::set_default_logger(spdlog::stderr_color_mt("zlhd"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  std::string journal_dir = flags.data + "/journal";
  auto journal = zlh::journal::Journal::Open(journal_dir);
  if (!journal.ok()) {
    spdlog::error("cannot open the journal: {}", journal.status().ToString());
    return 3;
  }
  spdlog::info("journal {} open (open #{})", journal_dir, (*journal)->open_count());

  asio::io_context io(1);
  zlh::workflows::Registry registry;
  zlh::scheduler::Queues queues({{"provision", 1}});
  zlh::workflows::EngineOptions engine_options;
  engine_options.admission = &queues;
  auto engine = std::make_unique<zlh::workflows::Engine>(io, **journal, registry, engine_options);
  queues.Attach(*engine);

  zlh::api::ServerOptions http_options;
  http_options.host = flags.host;
  http_options.port = flags.port;
  zlh::journal::Journal& j = **journal;
  zlh::api::HttpServer http(io, http_options, [&j](const zlh::api::Request& req) -> Task<zlh::api::Response> {
    if (req.path == "/healthz") {
      if (req.method != "GET") {
        auto r = Json(405, R"({"error":{"code":"invalid_argument","message":"use GET"}})");
        r.headers.emplace_back("Allow", "GET");
        co_return r;
      }
      zlh::Status health = j.health();
      if (health.ok()) co_return Json(200, R"({"status":"ok"})");
      co_return Json(503, R"({"status":"unavailable"})");
    }
    co_return Json(404, R"({"error":{"code":"not_found","message":"no such route"}})");
  });
  auto port = http.Listen();
  if (!port.ok()) {
    spdlog::error("{}", port.status().message());
    return 2;
  }
  std::string addr = flags.host + ":" + std::to_string(*port);
  if (!WriteFileAtomically(flags.data + "/zlhd.addr", addr + "\n")) {
    spdlog::error("cannot write {}/zlhd.addr", flags.data);
    return 2;
  }
  spdlog::info("listening on http://{}", addr);

  int exit_code = 0;
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        zlh::Status recovered = co_await engine->Recover();
        if (!recovered.ok()) {
          spdlog::error("recovery failed: {}", recovered.ToString());
          exit_code = 3;
          io.stop();
          co_return;
        }
        http.Start();
        spdlog::info("zlhd ready");
      },
      asio::detached);

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("{} received: draining", strsignal(signo));
    asio::co_spawn(
        io,
        [&]() -> Task<void> {
          co_await http.Stop(zlh::Millis(10'000));
          co_await engine->Drain(zlh::Millis(10'000));
          io.stop();
        },
        asio::detached);
  });

  io.run();
  engine.reset();    // before the journal, which it unhooks itself from
  journal->reset();  // commits what is queued; the io_context no longer runs its callbacks
  spdlog::info("zlhd stopped");
  return exit_code;
}
