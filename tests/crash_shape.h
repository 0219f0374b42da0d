// The workflow shapes of the crash tests: a workflow is a list of steps, written as text so that
// the test (which generates them) and tests/crash_worker (which runs them) agree.
//
//   n<F>   an ordinary step that fails its first F attempts (3 attempts allowed: F >= 3 fails it)
//   a      an at-most-once step
//   z<MS>  a durable sleep of MS milliseconds
//   t      a transactional step that writes one domain row
//   w      a wait for the signal "go" (the worker sends one per wait after starting the workflows)
// Steps are separated by '.'; e.g. "n0.z20.a.n2.t".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zlh::crash {

struct StepShape {
  char kind;           // 'n', 'a', 'z', 't', 'w'
  uint32_t param = 0;  // failures for 'n', milliseconds for 'z'
};

inline constexpr uint32_t kMaxAttempts = 3;

inline std::vector<StepShape> ParseShape(const std::string& text) {
  std::vector<StepShape> steps;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find('.', i);
    if (end == std::string::npos) end = text.size();
    std::string part = text.substr(i, end - i);
    StepShape s{part[0], 0};
    if (part.size() > 1) s.param = static_cast<uint32_t>(std::stoul(part.substr(1)));
    steps.push_back(s);
    i = end + 1;
  }
  return steps;
}

inline std::string FormatShape(const std::vector<StepShape>& steps) {
  std::string out;
  for (const StepShape& s : steps) {
    if (!out.empty()) out += '.';
    out += s.kind;
    if (s.kind == 'n' || s.kind == 'z') out += std::to_string(s.param);
  }
  return out;
}

// The result a crash-free run gives each step ('z' gives none).
inline std::string StepResult(const StepShape& s, size_t index) {
  return s.kind == 'z' ? "" : std::string(1, s.kind) + std::to_string(index + 1) + ";";
}

// The domain row a transactional step writes.
inline std::string TxnRow(const std::string& workflow_id, uint32_t step) {
  return "C" + workflow_id + ":" + std::to_string(step);
}

}  // namespace zlh::crash
