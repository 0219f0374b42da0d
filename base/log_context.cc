// Log context (log_context.h): one pointer per thread.
#include "base/log_context.h"

#include <utility>

namespace zlh::logging {
namespace {

thread_local Fields* current = nullptr;

}  // namespace

Fields* Current() { return current; }

void SetServerId(std::string server_id) {
  if (current) current->server_id = std::move(server_id);
}

Scope::Scope(Fields* fields) : previous_(current) { current = fields; }

Scope::~Scope() { current = previous_; }

}  // namespace zlh::logging
