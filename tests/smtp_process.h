// SmtpServer: a real SMTP server for tests — Debian's python3-aiosmtpd as a child process on a free
// loopback port, storing what it receives in a maildir — in plain SMTP, with STARTTLS, or as
// SMTPS, with a throw-away self-signed certificate for 127.0.0.1 made by openssl. Killed on
// destruction. Test-only.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/temp_dir.h"
#include "tests/loopback_port.h"

namespace zlh {

class SmtpServer {
 public:
  enum class Tls { kNone, kStartTls, kSmtps };

  explicit SmtpServer(Tls tls = Tls::kNone) : port_(FreeLoopbackPort()), tls_(tls) {
    if (tls != Tls::kNone) MakeCertificate();
    std::string listen = "127.0.0.1:" + std::to_string(port_);
    std::vector<std::string> args = {"/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", listen};
    if (tls == Tls::kStartTls) args.insert(args.end(), {"--tlscert", cert(), "--tlskey", key()});
    if (tls == Tls::kSmtps) args.insert(args.end(), {"--smtpscert", cert(), "--smtpskey", key()});
    args.insert(args.end(), {"-c", "aiosmtpd.handlers.Mailbox", maildir()});
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int log = open(log_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);  // its own chatter
      if (log >= 0) {
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    ready_ = certified_ && AwaitLoopback(port_);
  }
  ~SmtpServer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  bool ready() const { return ready_; }
  uint16_t port() const { return port_; }
  std::string url() const {
    return std::string(tls_ == Tls::kSmtps ? "smtps" : "smtp") + "://127.0.0.1:" + std::to_string(port_);
  }
  std::string cert() const { return dir_.path() + "/cert.pem"; }  // also the CA to trust
  std::string key() const { return dir_.path() + "/key.pem"; }
  std::string maildir() const { return dir_.path() + "/maildir"; }
  std::string log_path() const { return dir_.path() + "/server.log"; }

  // The messages received so far, each as the server stored it.
  std::vector<std::string> Messages() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(maildir() + "/new", ec)) {
      std::ifstream in(f.path());
      std::stringstream text;
      text << in.rdbuf();
      out.push_back(text.str());
    }
    return out;
  }

 private:
  void MakeCertificate() {
    std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
                      " -addext subjectAltName=IP:127.0.0.1 -keyout " + key() + " -out " + cert() +
                      " > /dev/null 2>&1";
    certified_ = std::system(cmd.c_str()) == 0;
  }

  TempDir dir_;
  uint16_t port_;
  Tls tls_;
  pid_t pid_ = -1;
  bool certified_ = true;
  bool ready_ = false;
};

}  // namespace zlh
