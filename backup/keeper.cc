#include "backup/keeper.h"

#include <filesystem>

#include "backup/prune.h"
#include "base/off_loop.h"

namespace zlh::backup {

Keeper::Keeper(const journal::Journal& journal, Place place)
    : journal_(journal), place_(std::move(place)) {
  // Recorded and reported as absolute paths, whatever the daemon's --data looked like.
  if (!place_.root.empty()) place_.root = std::filesystem::absolute(place_.root).lexically_normal();
}

Keeper::~Keeper() { thread_.join(); }

boost::asio::awaitable<Result<Taken>> Keeper::Take(std::string target, Origin origin, bool verify) {
  TakeRequest req{std::move(target), place_.tokens_file, origin, verify};
  co_return co_await OffLoop<Result<Taken>>(thread_,
                                            [this, req] { return backup::Take(journal_, req); });
}

boost::asio::awaitable<Result<Taken>> Keeper::TakeScheduled(std::string name, int64_t now_ms) {
  TakeRequest req{place_.root + "/" + name, place_.tokens_file, Origin::kScheduled, true, now_ms};
  co_return co_await OffLoop<Result<Taken>>(thread_, [this, req]() -> Result<Taken> {
    std::error_code ec;
    std::filesystem::create_directories(place_.root, ec);
    if (ec) return Status(Code::kIOError, "cannot create " + place_.root + ": " + ec.message());
    return backup::Take(journal_, req);
  });
}

boost::asio::awaitable<Result<std::vector<std::string>>> Keeper::Prune() {
  co_return co_await OffLoop<Result<std::vector<std::string>>>(
      thread_, [this] { return backup::Prune(place_.root, place_.keep); });
}

}  // namespace zlh::backup
