// zlhd's node: what the daemon keeps (the journal, the API tokens) and what it runs — the simulated
// fleet when it has no real one, the engine with the ZLH workflows, the controller's crons and
// watchdog, the notification outbox's dispatcher and the HTTP API — assembled in the order each
// needs the others, started once recovery is done, reloaded on SIGHUP (tools/zlhd_reload.h) and
// drained on SIGTERM or SIGINT.
//
// Thread-safety: one Node per process; Run on the main thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "config/config.h"
#include "config/fleet.h"
#include "scheduler/redis_lock.h"

namespace zlh::tools {

// How zlhd was asked to run (its command line, less what only main reads).
struct NodeFlags {
  std::string config;  // the config file, "" for the built-in defaults
  std::string data;    // the data directory
  std::string host;
  uint16_t port = 0;
  std::optional<scheduler::RedisUrl> redis;
  // Reads the config again as the start did, the command line's overrides applied (SIGHUP).
  std::function<Result<std::pair<config::Settings, config::Fleet>>()> reconfigure;
};

class Node {
 public:
  // Opens the data directory `flags.data` (created if absent), its journal and its tokens, and
  // assembles the node for `settings` on `fleet`. A node, or the exit code and a logged reason:
  // 2 for a data directory, tokens, workflows or api.tls's certificate that cannot be set up, 3
  // for a journal that cannot be opened.
  struct Opened {
    std::unique_ptr<Node> node;
    int exit_code = 0;
  };
  static Opened Open(const NodeFlags& flags, config::Settings settings, config::Fleet fleet);

  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Listens, recovers, serves and runs until SIGTERM or SIGINT has drained it; the exit code (0
  // clean stop, 2 cannot listen, 3 recovery or the lock failed).
  int Run();

 private:
  struct Parts;
  explicit Node(std::unique_ptr<Parts> parts);

  std::unique_ptr<Parts> parts_;
};

}  // namespace zlh::tools
