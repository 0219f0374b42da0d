// SimProcess: a zlh-sim child process on a free loopback port, for tests; killed on destruction.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace zlh {

class Sim {
 public:
  explicit Sim(const std::string& state) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a test that crashed
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      execl(ZLH_SIM, ZLH_SIM, "--listen", "127.0.0.1:0", "--state", state.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    std::string line;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    close(out[0]);
    const std::string prefix = "listening on ";
    if (line.rfind(prefix, 0) == 0) url_ = line.substr(prefix.size());
  }
  ~Sim() { Kill(SIGKILL); }
  void Kill(int sig) {
    if (pid_ > 0) {
      kill(pid_, sig);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  // Sends `sig` and returns at once (SIGSTOP freezes the simulator, SIGCONT thaws it).
  void Signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }
  const std::string& url() const { return url_; }

 private:
  pid_t pid_ = -1;
  std::string url_;
};

}  // namespace zlh
