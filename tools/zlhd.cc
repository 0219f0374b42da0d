// zlhd: the zlh-flow daemon. Opens the journal, resumes every unfinished workflow and runs the
// engine until SIGTERM or SIGINT, when it stops taking work, lets in-flight steps finish (their
// progress is durable either way) and exits 0.
//
// Exit codes: 0 clean stop; 2 bad usage; 3 journal unusable (held by another process, newer
// format, corrupt).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "journal/journal.h"
#include "workflows/engine.h"
#include "workflows/registry.h"

namespace {

namespace asio = boost::asio;
using zlh::workflows::Task;

constexpr char kUsage[] =
    "usage: zlhd [--data DIR]\n"
    "\n"
    "Runs the zlh-flow engine: resumes every unfinished workflow of the journal in DIR and runs\n"
    "workflows until SIGTERM/SIGINT.\n"
    "\n"
    "  --data DIR   the data directory (default ./zlh-data; created when absent); the journal\n"
    "               is DIR/journal\n"
    "  --help       this text\n"
    "\n"
    "Exit codes: 0 clean stop; 2 bad usage; 3 journal unusable.\n";

struct Flags {
  std::string data = "zlh-data";
};

// Parses argv; on a usage error prints it and exits 2, on --help prints usage and exits 0.
Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "zlhd: %s needs a value\n%s", arg.c_str(), kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--data") {
      flags.data = value();
    } else {
      std::fprintf(stderr, "zlhd: unknown argument '%s'\n%s", arg.c_str(), kUsage);
      std::exit(2);
    }
  }
  return flags;
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
  auto engine = std::make_unique<zlh::workflows::Engine>(io, **journal, registry);

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
