// RedisServer: a real redis-server child process on a free loopback port, without persistence, for
// tests; killed on destruction. Restart() brings it back on the same port (empty: a restarted
// Redis that lost its keys). Extra arguments are configuration directives (`--requirepass S`,
// `--user NAME on >PASSWORD ~* +@all`). Test-only.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/loopback_port.h"

namespace zlh {

class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> directives = {})
      : port_(FreeLoopbackPort()), directives_(std::move(directives)) {
    Start();
  }
  ~RedisServer() { Stop(); }

  void Start() {
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      std::string port = std::to_string(port_);
      std::vector<const char*> argv{"redis-server", "--port",     port.c_str(), "--bind",
                                    "127.0.0.1",    "--save",     "",           "--appendonly",
                                    "no",           "--loglevel", "warning"};
      for (const auto& d : directives_) argv.push_back(d.c_str());
      argv.push_back(nullptr);
      execvp("redis-server", const_cast<char* const*>(argv.data()));
      _exit(127);
    }
    AwaitLoopback(port_);  // ready when it accepts a connection
  }
  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  void Restart() {
    Stop();
    Start();
  }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
  std::vector<std::string> directives_;
  pid_t pid_ = -1;
};

}  // namespace zlh
