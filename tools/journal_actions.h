// zlh-journal's operator actions (SPEC §7.3), sent to the daemon's HTTP API rather than written
// to the journal: retry, cancel, signal, approve, and backup through the daemon.
//
// Exit codes: 0 done; 1 the daemon refused (its error is printed; an unknown id included); 2 bad
// usage (a token file that cannot be read included); 4 the daemon did not answer.
#pragma once

#include <string>
#include <vector>

namespace zlh::tools {

struct ActionArgs {
  std::string server;      // "http://127.0.0.1:8080"
  std::string token_file;  // a file holding the admin token, or zlhd's tokens file
  std::string verb;
  std::vector<std::string> positional;
  std::string reason;  // cancel --reason
  bool json = false;
  bool force = false;  // retry --force: confirms running an interrupted at-most-once step again
  bool from_template = false;  // approve --from-template: no backup, so rebuild from the template
};

// True for the verbs that only the daemon performs.
bool IsDaemonAction(const std::string& verb);
int RunAction(const ActionArgs& args);

}  // namespace zlh::tools
