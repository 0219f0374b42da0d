#include "api/signature_watch.h"

#include "base/clock.h"

namespace zlh::api {

SignatureWatch::SignatureWatch(Sink on_burst, std::function<int64_t()> now_ms)
    : on_burst_(std::move(on_burst)),
      now_ms_(now_ms ? std::move(now_ms) : [] { return NowMs(); }) {}

bool SignatureWatch::InBurst() const { return open_ && now_ms_() - last_ms_ < kWindow.count(); }

void SignatureWatch::Refused() {
  int64_t now = now_ms_();
  if (InBurst()) {
    last_ms_ = now;  // the burst goes on: told once already
    return;
  }
  open_ = false;
  while (!recent_.empty() && now - recent_.front() >= kWindow.count()) recent_.pop_front();
  recent_.push_back(now);
  if (recent_.size() < static_cast<size_t>(kBurst)) return;
  // Only the window's signatures are kept, so a flood costs no memory: at most kBurst of them.
  int64_t first = recent_.front();
  int count = static_cast<int>(recent_.size());
  recent_.clear();
  open_ = true;
  last_ms_ = now;
  if (on_burst_) on_burst_(first, count);
}

}  // namespace zlh::api
