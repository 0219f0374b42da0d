#include "base/status.h"

#include <array>

namespace zlh {
namespace {

constexpr std::array<std::string_view, 17> kNames = {
    "ok",
    "invalid_argument",
    "not_found",
    "already_exists",
    "failed_precondition",
    "unavailable",
    "deadline_exceeded",
    "cancelled",
    "corruption",
    "io_error",
    "non_determinism",
    "interrupted",
    "internal",
    "lease_lost",
    "quota_exceeded",
    "held",
    "no_capacity",
};

}  // namespace

std::string_view CodeName(Code code) {
  auto i = static_cast<size_t>(code);
  return i < kNames.size() ? kNames[i] : "internal";
}

Code CodeFromName(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<Code>(i);
  }
  return Code::kInternal;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(CodeName(code_));
  s += ": ";
  s += message_;
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  return {code_, std::move(m)};
}

}  // namespace zlh
