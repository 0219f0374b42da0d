// Keeper: where zlhd's journal backups go (SPEC §11), and the one thread they are taken, verified
// and pruned on, off the event loop — so a checkpoint of a large journal never holds up a request
// or a workflow, and two backups (the daily one, one asked for through the API) never overlap.
//
// Thread-safety: the calls are made on the event loop and resume there; the work runs on the
// Keeper's own thread, joined by its destructor (which waits for a backup under way).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <string>
#include <vector>

#include "backup/layout.h"
#include "backup/take.h"
#include "journal/journal.h"

namespace zlh::backup {

struct Place {
  std::string root;         // every backup goes under it (created when absent)
  std::string tokens_file;  // copied into each backup; "" when there is none
  uint32_t keep = 14;       // scheduled backups kept by Prune
};

class Keeper {
 public:
  // `journal` must outlive the Keeper.
  Keeper(const journal::Journal& journal, Place place);
  ~Keeper();
  Keeper(const Keeper&) = delete;
  Keeper& operator=(const Keeper&) = delete;

  const Place& place() const { return place_; }

  // backup::Take of `target` (see take.h), with this place's tokens file.
  boost::asio::awaitable<Result<Taken>> Take(std::string target, Origin origin, bool verify);
  // The scheduled backup `name` (layout.h's ScheduledName) under the root, verified; the root is
  // created when absent (kIOError when it cannot be).
  boost::asio::awaitable<Result<Taken>> TakeScheduled(std::string name, int64_t now_ms);
  // backup::Prune of the root with this place's `keep`: the paths removed.
  boost::asio::awaitable<Result<std::vector<std::string>>> Prune();

 private:
  const journal::Journal& journal_;
  Place place_;
  boost::asio::thread_pool thread_{1};  // last: joined before the rest is destroyed
};

}  // namespace zlh::backup
