// Daemon: a zlhd child process for tests (stderr to a file, killed with SIGKILL on destruction if
// still running), and helpers that wait on its log. Test-only.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace zlh {

// The zlhd the tests run: ZLHD_BINARY from the environment when set (the packaged zlhd, extracted
// by package_test), else the one this build made (ZLHD, a compile-time path).
inline const char* ZlhdBinary() {
  const char* from_env = std::getenv("ZLHD_BINARY");
  return from_env != nullptr && *from_env != '\0' ? from_env : ZLHD;
}

// A zlhd child process whose stderr goes to a file (and stdout too, to `out`, when given); killed
// on destruction if still running.
class Daemon {
 public:
  Daemon(const std::vector<std::string>& args, const std::string& log, const std::string& out = "") {
    const char* binary = ZlhdBinary();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the parent
      FILE* f = freopen(log.c_str(), "w", stderr);
      if (!out.empty()) f = freopen(out.c_str(), "w", stdout);
      (void)f;
      std::vector<char*> argv{const_cast<char*>(binary)};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(binary, argv.data());
      _exit(127);
    }
  }
  ~Daemon() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  // The exit code, or -1 when it is still running at the deadline.
  int Wait(std::chrono::milliseconds deadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    int status = 0;
    while (std::chrono::steady_clock::now() < until) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return -1;
  }
  void Signal(int sig) { kill(pid_, sig); }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline bool WaitForLog(const std::string& path, const std::string& text, std::chrono::seconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (ReadFile(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace zlh
