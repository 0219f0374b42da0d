// ReplaceableNotifier and ReplaceableMailer: a Notifier and a Mailer that pass every call on to
// the one they hold now, which a reload replaces (zlhd's SIGHUP, SPEC §11: Discord webhooks and
// email settings changed without a restart). A call keeps the one it started with until it
// returns, so an attempt in flight finishes where it began; the next call goes to the new one.
//
// Thread-safety: every call, Replace included, may come from any thread (the notification
// dispatcher asks PartCount on the journal's writer thread).
#pragma once

#include <memory>
#include <mutex>

#include "activities/services.h"

namespace zlh::activities {

class ReplaceableNotifier final : public Notifier {
 public:
  explicit ReplaceableNotifier(std::shared_ptr<Notifier> current);

  // From the next call on, `next` takes the calls; a call in flight keeps the one it began with.
  void Replace(std::shared_ptr<Notifier> next);

  size_t PartCount(const std::string& content) const override;
  boost::asio::awaitable<PostResult> PostPart(std::string key, std::string channel,
                                              std::string content, bool ping, size_t part) override;

 private:
  std::shared_ptr<Notifier> current() const;

  mutable std::mutex mu_;
  std::shared_ptr<Notifier> current_;
};

class ReplaceableMailer final : public Mailer {
 public:
  // `current` may be null: no email is configured, and Send refuses (kFailedPrecondition).
  explicit ReplaceableMailer(std::shared_ptr<Mailer> current);

  // As ReplaceableNotifier::Replace; `next` may be null.
  void Replace(std::shared_ptr<Mailer> next);

  boost::asio::awaitable<Status> Send(const CallContext& ctx, std::string channel,
                                      std::string text) override;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<Mailer> current_;
};

}  // namespace zlh::activities
