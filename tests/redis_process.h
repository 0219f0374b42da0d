// RedisServer: a real redis-server child process on a free loopback port, without persistence, for
// tests; killed on destruction. Restart() brings it back on the same port (empty: a restarted
// Redis that lost its keys). Test-only.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "tests/loopback_port.h"

namespace zlh {

class RedisServer {
 public:
  RedisServer() : port_(FreeLoopbackPort()) { Start(); }
  ~RedisServer() { Stop(); }

  void Start() {
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      std::string port = std::to_string(port_);
      execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--loglevel", "warning",
             static_cast<char*>(nullptr));
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
  pid_t pid_ = -1;
};

}  // namespace zlh
