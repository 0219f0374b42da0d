// Off the event loop: runs a blocking call (libcurl's easy interface, a journal checkpoint, a file
// copy) on a thread pool and resumes the awaiting coroutine on its own executor with the result.
//
// Thread-safety: `fn` runs on a pool thread; it must not touch what the loop's thread owns.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

namespace zlh {

template <typename R, typename Fn>
boost::asio::awaitable<R> OffLoop(boost::asio::thread_pool& pool, Fn fn) {
  namespace asio = boost::asio;
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(R)>(
      [&pool, &fn](auto handler) {
        auto ex = asio::get_associated_executor(handler);
        asio::post(pool, [fn = std::move(fn), handler = std::move(handler), ex]() mutable {
          R result = fn();
          asio::post(ex, [handler = std::move(handler), result = std::move(result)]() mutable {
            std::move(handler)(std::move(result));
          });
        });
      },
      asio::use_awaitable);
}

}  // namespace zlh
