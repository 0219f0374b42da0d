// Status and Result<T>: the error values that cross module boundaries in zlh-flow.
// A Status is OK or a (code, message) pair from a small closed set of codes; Result<T> is a value or
// a non-OK Status. Both are plain values: copyable, thread-compatible (no shared state).
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace zlh {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // the caller's input is malformed; retrying it unchanged will not help
  kNotFound,            // the named thing does not exist
  kAlreadyExists,       // a create found the thing already there
  kFailedPrecondition,  // the system is not in a state that allows the call (e.g. workflow
                        // terminal)
  kUnavailable,         // a dependency is down or the journal is fail-stopped; may succeed later
  kDeadlineExceeded,    // a timeout fired
  kCancelled,           // the work was cancelled on request
  kCorruption,          // stored data cannot be decoded or breaks an invariant
  kIOError,             // the operating system or storage reported an error
  kNonDeterminism,      // workflow code disagrees with its recorded history
  kInterrupted,         // an at-most-once step was found started but not finished after a crash
  kInternal,            // a bug: an invariant of the code itself broke
  kLeaseLost,           // a server's lease was taken away (its epoch bumped): do not act
  kQuotaExceeded,       // the caller is at a configured limit (live servers per customer)
  kHeld,        // held back: a lease or maintenance keeps it from acting now; it did not try
  kNoCapacity,  // no node fits or no address is free: a provisioning cannot be placed
};

// The lower-case name of a code, as used in logs, events and API errors ("not_found").
std::string_view CodeName(Code code);
// The inverse of CodeName; kInternal for an unknown name.
Code CodeFromName(std::string_view name);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "not_found: workflow 01J... does not exist"; "ok" for OK.
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context`: "context: message".
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {Code::kFailedPrecondition, std::move(m)};
}
inline Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
inline Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  // An error result that says it was never given a value (for containers and futures).
  Result() : v_(Status(Code::kInternal, "result never set")) {}
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  // Anything T can be built from, such as a string literal for Result<std::string>.
  template <typename U>
    requires(std::is_constructible_v<T, U &&> && !std::is_same_v<std::decay_t<U>, T> &&
             !std::is_same_v<std::decay_t<U>, Status>)
  Result(U&& value) : v_(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // The error; an OK status when the result holds a value.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace zlh

// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define ZLH_RETURN_IF_ERROR(expr)             \
  do {                                        \
    ::zlh::Status zlh_status_ = (expr);       \
    if (!zlh_status_.ok()) return zlh_status_; \
  } while (0)

// The same, in a coroutine.
#define ZLH_CO_RETURN_IF_ERROR(expr)             \
  do {                                           \
    ::zlh::Status zlh_status_ = (expr);          \
    if (!zlh_status_.ok()) co_return zlh_status_; \
  } while (0)
