// ReplaceableNotifier and ReplaceableMailer (replaceable.h): each call copies the pointer under the
// lock and calls through the copy, which keeps the old one alive for a call in flight.
#include "activities/replaceable.h"

#include <utility>

namespace zlh::activities {

ReplaceableNotifier::ReplaceableNotifier(std::shared_ptr<Notifier> current)
    : current_(std::move(current)) {}

void ReplaceableNotifier::Replace(std::shared_ptr<Notifier> next) {
  std::lock_guard lock(mu_);
  current_.swap(next);
}  // the old one goes here, unless a call still holds it

std::shared_ptr<Notifier> ReplaceableNotifier::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

size_t ReplaceableNotifier::PartCount(const std::string& content) const {
  return current()->PartCount(content);
}

boost::asio::awaitable<PostResult> ReplaceableNotifier::PostPart(std::string key,
                                                                 std::string channel,
                                                                 std::string content, bool ping,
                                                                 size_t part) {
  std::shared_ptr<Notifier> notifier = current();
  co_return co_await notifier->PostPart(std::move(key), std::move(channel), std::move(content),
                                        ping, part);
}

ReplaceableMailer::ReplaceableMailer(std::shared_ptr<Mailer> current)
    : current_(std::move(current)) {}

void ReplaceableMailer::Replace(std::shared_ptr<Mailer> next) {
  std::lock_guard lock(mu_);
  current_.swap(next);
}

boost::asio::awaitable<Status> ReplaceableMailer::Send(const CallContext& ctx, std::string channel,
                                                       std::string text) {
  std::shared_ptr<Mailer> mailer;
  {
    std::lock_guard lock(mu_);
    mailer = current_;
  }
  if (!mailer) co_return FailedPrecondition("email is not configured (email.smtpUrl)");
  co_return co_await mailer->Send(ctx, std::move(channel), std::move(text));
}

}  // namespace zlh::activities
