#include "flows/lease.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/clock.h"
#include "fleet/tables.h"

namespace zlh::flows {
namespace {

namespace asio = boost::asio;

std::string NotifyKey(const std::string& server_id) { return "lease:" + server_id; }

// Writes the lease's heartbeat now and every `interval` while `alive` lives.
void StartHeartbeat(Deps& deps, const std::string& server_id, std::weak_ptr<void> alive) {
  journal::Journal* journal = deps.journal;
  Millis interval = deps.settings->lease_heartbeat_interval;
  asio::co_spawn(
      deps.engine->executor(),
      [journal, server_id, interval, alive]() -> workflows::Task<void> {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        while (!alive.expired() && journal->health().ok()) {
          journal::Batch beat;
          fleet::PutHeartbeat(beat, server_id, NowMs());
          journal->Append(std::move(beat), nullptr, [](Status) {});
          timer.expires_after(interval);
          co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
      },
      asio::detached);
}

}  // namespace

workflows::Task<Result<HeldLease>> AcquireLease(workflows::Context& ctx, Deps& deps,
                                                const std::string& server_id, ServerCheck allow) {
  const std::string me = ctx.id();
  // Registered before the first try: a workflow that ends while it waits leaves the queue too.
  ctx.OnEnd(
      [server_id, me](journal::Txn& t) -> Status {
        fleet::RemoveWaiter(t, server_id, me);
        auto lease = fleet::GetLease(t, server_id);
        if (!lease.ok()) return lease.status();
        if (lease->holder() == me) {
          lease->clear_holder();
          lease->clear_acquired_ms();
          fleet::PutLease(t, *lease);
        }
        return Status::Ok();
      },
      [engine = deps.engine, server_id] {
        if (engine) engine->Notify(NotifyKey(server_id));
      });
  auto took = co_await ctx.TxnStepWhen(
      "acquire_lease",
      [server_id, me, allow](journal::Txn& t,
                             const workflows::StepInfo&) -> Result<std::optional<std::string>> {
        auto server = fleet::GetServer(t, server_id);
        if (!server.ok()) return server.status();
        if (!server->has_value()) return NotFound("server " + server_id + " does not exist");
        if (Status s = allow(**server); !s.ok()) return s;
        auto lease = fleet::GetLease(t, server_id);
        if (!lease.ok()) return lease.status();
        // The result carries the server as it is now: the workflow acts on that record (replay
        // sees the same), not on whatever the table holds later.
        auto result = [&](uint64_t epoch) {
          return std::optional<std::string>(std::to_string(epoch) + " " +
                                            (*server)->SerializeAsString());
        };
        if (lease->holder() == me) return result(lease->epoch());
        fleet::AddWaiter(t, server_id, me);
        auto first = fleet::FirstWaiter(t, server_id);
        if (!first.ok()) return first.status();
        if (!lease->holder().empty() || *first != me) return std::optional<std::string>();
        lease->set_holder(me);
        lease->set_epoch(lease->epoch() + 1);
        lease->set_acquired_ms(NowMs());
        fleet::PutLease(t, *lease);
        fleet::RemoveWaiter(t, server_id, me);
        return result(lease->epoch());
      },
      workflows::WaitSpec{"lease", server_id, NotifyKey(server_id),
                          deps.settings ? deps.settings->lease_poll_interval : Millis(30'000),
                          /*retake_on_retry=*/true});
  if (!took.ok()) co_return took.status();
  HeldLease held;
  held.server_id = server_id;
  size_t space = took->find(' ');
  held.epoch = std::stoull(took->substr(0, space));
  if (space == std::string::npos || !held.server.ParseFromString(took->substr(space + 1))) {
    co_return Status(Code::kCorruption, "acquire_lease: unreadable recorded result");
  }
  held.heartbeat = std::make_shared<int>(0);
  if (deps.journal && deps.engine) StartHeartbeat(deps, server_id, held.heartbeat);
  co_return held;
}

Status CheckLease(const journal::Journal& journal, const HeldLease& held,
                  const std::string& holder) {
  auto lease = fleet::ReadLease(journal, held.server_id);
  if (!lease.ok()) return lease.status();
  if (lease->holder() != holder || lease->epoch() != held.epoch) {
    return Status(Code::kLeaseLost,
                  "lease of server " + held.server_id + " is now at epoch " +
                      std::to_string(lease->epoch()) +
                      (lease->holder().empty() ? ", free" : ", held by " + lease->holder()) +
                      " (this workflow took epoch " + std::to_string(held.epoch) + ")");
  }
  return Status::Ok();
}

}  // namespace zlh::flows
