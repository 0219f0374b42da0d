// Dispatcher: delivers the notification outbox (SPEC §10; fleet/outbox.h holds the entries). A
// coroutine on the engine's io_context keeps one lane per route ("discord:<channel>", "email"),
// sends each lane strictly in id order — only its head is tried, the next waits until the head
// is delivered or refused — with at most one attempt per lane and `concurrency` in all, so a
// rate-limited or broken channel never delays another. An attempt delivers one Discord part or
// one email:
//   W1, durable before the send: attempts + 1, in_flight_ms = now (and the part count);
//   the send, one attempt (the notifier's own timeout bounds it);
//   W2: in_flight_ms = 0 and the outcome — a part shown (the delivery done with its last part),
//   a retry at next_try_ms (a 429's retry_after, else capped backoff; no limit on tries), or a
//   refusal (failed; a ping that Discord refuses gets an email delivery in the same write).
// At the start, Recover counts every attempt a restart cut between W1 and W2 (`interrupted`: it
// may have been shown) and clears it; that part is sent again, with the same nonce. Email rules
// (policy.h EmailReason) are applied on every pass. Entries of WORKFLOW origin are delivered only
// while `leads()`; NODE entries always. Delivered and failed entries are pruned every
// `prune_every`. Nothing here is fenced: the decision was, when it was recorded.
//
// Thread-safety: Start, Stop, UseRoutes and snapshot on the executor's thread; Wake from any
// thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "activities/services.h"
#include "base/duration.h"
#include "config/config.h"
#include "journal/journal.h"
#include "notify/policy.h"
#include "notify/snapshot.h"

namespace zlh::notify {

template <typename T>
using Task = boost::asio::awaitable<T>;

struct DispatcherOptions {
  BackoffOptions backoff;  // notify.initialBackoff, notify.maxBackoff
  Millis rescan{1'000};    // the pending index is read again at least this often
  Millis prune_every{600'000};
  Millis keep_delivered{7LL * 24 * 3'600'000};
  Millis keep_failed{30LL * 24 * 3'600'000};
  size_t concurrency = 4;             // attempts in flight, at most one per lane
  EmailPolicy email;                  // (email.enabled needs a mailer)
  std::vector<std::string> channels;  // the configured Discord channels: always in the metrics
  std::function<bool()> leads;        // whether this node leads; null: it does
};

// The options the config gives (notify.*, email.*, the Discord channels), `leads` as given.
DispatcherOptions OptionsOf(const config::Settings& settings, std::function<bool()> leads);

class Dispatcher {
 public:
  // Everything must outlive the Dispatcher. `mailer` may be null: no email (an email delivery
  // recorded earlier is then refused). `discord` should bound each attempt (its request timeout).
  Dispatcher(boost::asio::any_io_executor ex, journal::Journal& journal,
             activities::Notifier& discord, activities::Mailer* mailer, DispatcherOptions options);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Recovers interrupted attempts, then delivers until Stop. Once.
  void Start();
  // Starts nothing new and waits, at most `deadline`, for the attempts in flight (one cut short is
  // found by the next start's Recover).
  Task<void> Stop(Millis deadline);
  // Rescans now (new entries were recorded).
  void Wake();
  // From the next pass on, applies `email`'s rules and shows `channels` in the metrics (a reload
  // of the config's routes; the notifier and mailer given at construction deliver to the new
  // routes themselves). `email.enabled` counts only with a mailer.
  void UseRoutes(EmailPolicy email, std::vector<std::string> channels);
  // The lanes as of the last pass (at most `rescan` old) and the counters as of now.
  Snapshot snapshot() const;

 private:
  struct State;
  Task<void> Run();
  // Sleeps until woken, a lane finishes, the earliest head is due or `rescan` passed.
  Task<void> Sleep();
  // One pass: rescan, email rules, pruning when due, and the attempts that may start.
  Task<void> Pass();
  void StartDueAttempts(int64_t now_ms);
  Task<void> Attempt(std::string route, uint64_t id);
  // W1: the entry as it is to be sent (with its content); nullopt when it is no longer pending.
  Task<Result<std::optional<proto::Notification>>> BeginAttempt(const std::string& route,
                                                                uint64_t id);
  Task<Outcome> Send(const std::string& route, const proto::Notification& n);
  // W2: the attempt's outcome recorded; `wait` is the retry's (ignored otherwise).
  Task<Status> EndAttempt(const std::string& route, uint64_t id, const Outcome& outcome,
                          Millis wait);
  // Counts a recorded outcome, marks its lane failing or not, and logs a retry or refusal.
  void Tally(const std::string& route, const proto::Notification& n, const Outcome& outcome,
             Millis wait);
  // Adds the email deliveries the rules call for now, in one write.
  Task<Status> ApplyEmailRules(int64_t now_ms);
  // Counts and clears the attempts a restart cut short, in one write.
  Task<Status> Recover();
  Task<Status> Prune(int64_t now_ms);
  bool Leads() const { return !options_.leads || options_.leads(); }

  boost::asio::any_io_executor ex_;
  journal::Journal& journal_;
  activities::Notifier& discord_;
  activities::Mailer* mailer_;
  DispatcherOptions options_;
  std::shared_ptr<State> state_;
};

}  // namespace zlh::notify
