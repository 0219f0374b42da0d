#include "scheduler/leadership.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "base/clock.h"

namespace zlh::scheduler {

namespace asio = boost::asio;

Leadership::Leadership(asio::io_context& io, uint64_t open_count) : io_(io), open_count_(open_count) {}

Leadership::~Leadership() = default;

void Leadership::Attach(workflows::Engine& engine, std::vector<Cron*> crons) {
  engine_ = &engine;
  crons_ = std::move(crons);
}

void Leadership::Lead() {
  leader_ = true;
  since_ms_ = NowMs();
  for (Cron* c : crons_) c->Start();
}

workflows::Task<Status> Leadership::LeadAlone() {
  wanted_ = true;
  ZLH_CO_RETURN_IF_ERROR(co_await engine_->Recover());
  Lead();
  co_return Status::Ok();
}

workflows::Task<void> Leadership::FollowLock(RedisUrl redis, RedisLockOptions options,
                                             std::function<void(Status)> on_fatal) {
  on_fatal_ = std::move(on_fatal);
  co_await engine_->Suspend(Millis(0));  // until the lock is ours
  lock_ = std::make_unique<RedisLock>(redis, options, [this](bool held, uint64_t) {
    // On the lock's thread: the change is taken on the io thread.
    asio::post(io_, [this, held] {
      wanted_ = held;
      asio::co_spawn(io_, Follow(), asio::detached);
    });
  });
  lock_->Start();
  spdlog::info("standby until the controller lock on redis://{}:{} is ours", redis.host, redis.port);
}

// Becomes what the lock says, one change at a time.
workflows::Task<void> Leadership::Follow() {
  if (changing_) co_return;
  changing_ = true;
  while (wanted_ != leader_ && !stopping_) {
    if (wanted_) {
      Status recovered = co_await engine_->Resume();
      if (!recovered.ok()) {
        spdlog::error("recovery failed: {}", recovered.ToString());
        if (on_fatal_) on_fatal_(recovered);
        break;
      }
      if (stopping_) break;  // stopped while recovering: no cron starts now
      Lead();
      spdlog::info("this node leads: it runs the workflows and the controller (fencing token {})",
                   fencing_token());
    } else {
      leader_ = false;
      for (Cron* c : crons_) c->Stop();
      // What is in flight gets until the lock could expire in Redis, no longer: another node may
      // act after that. (Every further step is refused at once: may_act().)
      co_await engine_->Suspend(lock_->time_left());
      spdlog::warn("this node does not hold the controller lock: it runs no workflow (standby)");
    }
  }
  changing_ = false;
}

void Leadership::Stop() {
  stopping_ = true;
  for (Cron* c : crons_) c->Stop();
}

}  // namespace zlh::scheduler
