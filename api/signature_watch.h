// SignatureWatch: notices bursts of bad billing webhook signatures (SPEC §10: "≥ 3 in 10 min: one
// alert per burst"). Each 401 the webhook answers is noted; the third within a sliding 10-minute
// window opens a burst and calls the sink once; the burst closes after 10 minutes without a bad
// signature, and only then can the next ones open another. Held in memory only: the refused
// requests write nothing, and a restart forgets an open burst (the next three alert again).
//
// Thread-safety: none; zlhd uses it on the engine's thread, where requests are served.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>

#include "base/duration.h"

namespace zlh::api {

class SignatureWatch {
 public:
  static constexpr int kBurst = 3;  // bad signatures that open a burst ...
  static constexpr Millis kWindow{10 * 60 *
                                  1000};  // ... within this long; and the quiet that ends it

  // Called when a burst opens: the first of its bad signatures at (wall clock, ms) and how many
  // there were then. It runs inside the request that completed the burst and must not block.
  using Sink = std::function<void(int64_t first_ms, int count)>;

  // `on_burst` may be null (nothing is told); `now_ms` defaults to the wall clock.
  explicit SignatureWatch(Sink on_burst, std::function<int64_t()> now_ms = nullptr);

  // Notes one bad signature, now.
  void Refused();
  // Whether a burst is open now (it closes once kWindow has passed since its last bad signature).
  bool InBurst() const;

 private:
  Sink on_burst_;
  std::function<int64_t()> now_ms_;
  std::deque<int64_t> recent_;  // outside a burst: the bad signatures within the window (< kBurst)
  bool open_ = false;           // a burst is open ...
  int64_t last_ms_ = 0;         // ... and its latest bad signature came at
};

}  // namespace zlh::api
