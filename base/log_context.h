// Log context: what a log line is about besides its message — the workflow whose code logged it and
// the server that workflow acts on — known on the thread that logs. The engine makes a workflow's
// fields current whenever its coroutine runs (base/log_context_executor.h); a workflow that learns
// its server records it with SetServerId; a sink (the journald one) reads Current() at log time.
//
// Thread-safety: the current fields are per thread. A Fields object is read and changed only on
// the thread where it is current (a workflow runs on one thread at a time).
#pragma once

#include <string>

namespace zlh::logging {

struct Fields {
  std::string workflow_id;
  std::string workflow_type;
  std::string server_id;  // "" until the workflow's code sets it
};

// The fields of the code running on this thread right now; nullptr outside any context.
Fields* Current();

// Records the server the current code acts on. Does nothing outside any context.
void SetServerId(std::string server_id);

// Makes `fields` current on this thread until destroyed, then restores what was current before
// (scopes nest). `fields` must outlive the scope.
class Scope {
 public:
  explicit Scope(Fields* fields);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  Fields* previous_;
};

}  // namespace zlh::logging
