// LogContextExecutor: an executor adaptor that makes a logging::Fields current (base/log_context.h)
// around every function it runs on its inner executor. A coroutine spawned on it — a workflow —
// has its fields current each time it resumes: after a timer, a socket, a post, or a completion
// dispatched to its executor. Work it starts on other executors does not carry them.
//
// Thread-safety: as the inner executor; the Fields are touched only where the functions run.
#pragma once

#include <boost/asio/execution/blocking.hpp>
#include <boost/asio/execution/executor.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>
#include <memory>
#include <type_traits>
#include <utility>

#include "base/log_context.h"

namespace zlh {

template <typename Inner>
class LogContextExecutor {
 public:
  LogContextExecutor(Inner inner, std::shared_ptr<logging::Fields> fields) noexcept
      : inner_(std::move(inner)), fields_(std::move(fields)) {}

  // Properties are the inner executor's (asio's query/require/prefer customisation points).
  template <typename Property>
  auto query(const Property& p) const noexcept
      -> decltype(boost::asio::query(std::declval<const Inner&>(), p)) {
    return boost::asio::query(inner_, p);
  }
  template <typename Property>
  auto require(const Property& p) const noexcept -> LogContextExecutor<
      std::decay_t<decltype(boost::asio::require(std::declval<const Inner&>(), p))>> {
    return {boost::asio::require(inner_, p), fields_};
  }
  template <typename Property>
  auto prefer(const Property& p) const noexcept -> LogContextExecutor<
      std::decay_t<decltype(boost::asio::prefer(std::declval<const Inner&>(), p))>> {
    return {boost::asio::prefer(inner_, p), fields_};
  }

  // Runs `f` as the inner executor would, with the fields current while it runs.
  template <typename Function>
  void execute(Function&& f) const {
    inner_.execute([fields = fields_, f = std::forward<Function>(f)]() mutable {
      logging::Scope scope(fields.get());
      std::move(f)();
    });
  }

  friend bool operator==(const LogContextExecutor& a, const LogContextExecutor& b) noexcept {
    return a.inner_ == b.inner_ && a.fields_ == b.fields_;
  }
  friend bool operator!=(const LogContextExecutor& a, const LogContextExecutor& b) noexcept {
    return !(a == b);
  }

 private:
  template <typename>
  friend class LogContextExecutor;

  Inner inner_;
  std::shared_ptr<logging::Fields> fields_;
};

}  // namespace zlh
