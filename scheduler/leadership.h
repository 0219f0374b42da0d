// Leadership: what holding the node lock means for this node (SPEC §6.4). The node that leads runs
// every workflow and fires the controller's crons; a standby runs none (the engine is suspended:
// it serves reads and refuses starts) and fires nothing. Without Redis the node leads alone (the
// journal's exclusive open is the lock); with Redis it follows a RedisLock, one change at a time
// (a flip while one is under way is taken after it). The fencing token every mutating call carries
// is the lock's, or the journal's open count without Redis.
//
// Thread-safety: everything runs on the io_context's one thread (the engine asks for the fencing
// token there too); only the RedisLock's own state is touched from its thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "scheduler/cron.h"
#include "scheduler/redis_lock.h"
#include "workflows/engine.h"

namespace zlh::scheduler {

class Leadership {
 public:
  // `open_count`: the journal's, the token without Redis.
  Leadership(boost::asio::io_context& io, uint64_t open_count);
  ~Leadership();
  Leadership(const Leadership&) = delete;
  Leadership& operator=(const Leadership&) = delete;

  // What leading sets going: `engine`'s workflows and `crons`. Both must outlive the Leadership's
  // use; call once, before LeadAlone or FollowLock.
  void Attach(workflows::Engine& engine, std::vector<Cron*> crons);

  // One node, no Redis: recovers the engine's workflows, then leads. The recovery's error.
  workflows::Task<Status> LeadAlone();
  // With Redis: standby (engine suspended) until the lock is ours, then follows it for good.
  // `on_fatal` gets the error when taking the lead fails (the recovery could not run).
  workflows::Task<void> FollowLock(RedisUrl redis, RedisLockOptions options,
                                   std::function<void(Status)> on_fatal);
  // No more changes, no more ticks (the engine is drained by its owner).
  void Stop();
  // Releases the lock if held (after the io_context has stopped running).
  void ReleaseLock() { lock_.reset(); }

  // Leads and may act right now: a lapsed lock counts as lost even before the change is taken.
  bool leader() const { return leader_ && may_act(); }
  // The node may act on the fleet now (the engine asks before every step): always without Redis,
  // while the lock's confirmation has not lapsed with it.
  bool may_act() const { return !lock_ || lock_->may_act(); }
  // Wall-clock ms until which a lock taken in a Redis that lost its state is not acted on; 0 when
  // not waiting (or without Redis).
  int64_t waiting_until_ms() const { return lock_ ? lock_->waiting_until_ms() : 0; }
  int64_t since_ms() const { return since_ms_; }
  uint64_t fencing_token() const { return lock_ ? lock_->token() : open_count_; }
  // nullptr without Redis.
  const RedisLock* lock() const { return lock_.get(); }
  // Another node holds the lock and Redis answers, or this one holds it and waits out a Redis that
  // lost its state: this node's silence is no outage (the wait is one ttl, by design).
  bool OtherLeads() const { return lock_ && lock_->redis_ok() && !leader_ && !lock_->held(); }

 private:
  workflows::Task<void> Follow();
  void Lead();

  boost::asio::io_context& io_;
  uint64_t open_count_;
  workflows::Engine* engine_ = nullptr;
  std::vector<Cron*> crons_;
  std::unique_ptr<RedisLock> lock_;
  std::function<void(Status)> on_fatal_;
  bool leader_ = false;
  bool wanted_ = false;
  bool changing_ = false;
  bool stopping_ = false;
  int64_t since_ms_ = 0;
};

}  // namespace zlh::scheduler
