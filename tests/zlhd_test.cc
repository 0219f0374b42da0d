// zlhd as a real process: clean drain on SIGTERM, refusal of bad usage and of a journal held by
// another process, with the exit codes of SPEC §7.2.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "base/temp_dir.h"

namespace zlh {
namespace {

using namespace std::chrono_literals;

// A zlhd child process whose stderr goes to a file; killed on destruction if still running.
class Daemon {
 public:
  Daemon(const std::vector<std::string>& args, const std::string& log) {
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = freopen(log.c_str(), "w", stderr);
      (void)f;
      std::vector<char*> argv{const_cast<char*>(ZLHD)};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(ZLHD, argv.data());
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
      std::this_thread::sleep_for(5ms);
    }
    return -1;
  }
  void Signal(int sig) { kill(pid_, sig); }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool WaitForLog(const std::string& path, const std::string& text, std::chrono::seconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (ReadFile(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(ZlhdTest, SigtermDrainsAndExitsZero) {
  TempDir tmp;
  Daemon d({"--data", tmp.Sub("data")}, tmp.Sub("log"));
  ASSERT_TRUE(WaitForLog(tmp.Sub("log"), "zlhd ready", 30s)) << ReadFile(tmp.Sub("log"));
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(30'000ms), 0) << ReadFile(tmp.Sub("log"));
  EXPECT_NE(ReadFile(tmp.Sub("log")).find("zlhd stopped"), std::string::npos);
}

TEST(ZlhdTest, SecondDaemonOnTheSameJournalExitsThree) {
  TempDir tmp;
  Daemon first({"--data", tmp.Sub("data")}, tmp.Sub("log1"));
  ASSERT_TRUE(WaitForLog(tmp.Sub("log1"), "zlhd ready", 30s));
  Daemon second({"--data", tmp.Sub("data")}, tmp.Sub("log2"));
  EXPECT_EQ(second.Wait(30'000ms), 3);
  EXPECT_NE(ReadFile(tmp.Sub("log2")).find("in use by another process"), std::string::npos)
      << ReadFile(tmp.Sub("log2"));
  first.Signal(SIGTERM);
  EXPECT_EQ(first.Wait(30'000ms), 0);
}

TEST(ZlhdTest, UnknownFlagExitsTwoWithUsage) {
  TempDir tmp;
  Daemon d({"--frobnicate"}, tmp.Sub("log"));
  EXPECT_EQ(d.Wait(30'000ms), 2);
  std::string log = ReadFile(tmp.Sub("log"));
  EXPECT_NE(log.find("unknown argument '--frobnicate'"), std::string::npos) << log;
  EXPECT_NE(log.find("usage: zlhd"), std::string::npos);
}

TEST(ZlhdTest, ForeignJournalDirectoryExitsThreeAndIsLeftAlone) {
  TempDir tmp;
  std::string data = tmp.Sub("data");
  std::filesystem::create_directories(data + "/journal");
  { std::ofstream(data + "/journal/notes.txt") << "mine"; }
  Daemon d({"--data", data}, tmp.Sub("log"));
  EXPECT_EQ(d.Wait(30'000ms), 3);
  EXPECT_EQ(ReadFile(data + "/journal/notes.txt"), "mine");
  EXPECT_NE(ReadFile(tmp.Sub("log")).find("refusing to create one there"), std::string::npos);
}

}  // namespace
}  // namespace zlh
