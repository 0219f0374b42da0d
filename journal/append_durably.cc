#include "journal/append_durably.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

namespace zlh::journal {

boost::asio::awaitable<Status> AppendDurably(Journal& journal, TxnFn txn) {
  namespace asio = boost::asio;
  // The append's callback runs on the journal's writer: hop back to this executor.
  auto ex = co_await asio::this_coro::executor;
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Status)>(
      [&journal, &txn, ex](auto handler) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        journal.Append({}, std::move(txn), [shared, ex](Status s) {
          asio::post(ex, [shared, s = std::move(s)]() mutable { (*shared)(std::move(s)); });
        });
      },
      asio::use_awaitable);
}

}  // namespace zlh::journal
