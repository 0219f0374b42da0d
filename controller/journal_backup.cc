#include "controller/journal_backup.h"

#include <boost/json.hpp>

#include "backup/keeper.h"
#include "controller/controller.h"
#include "fleet/tables.h"
#include "flows/steps.h"

namespace zlh::controller {
namespace {

namespace json = boost::json;
using workflows::Context;
using workflows::StepInfo;
using workflows::Task;

// Step take: the scheduled backup taken at `now_ms`, verified. Its path.
Task<Result<std::string>> TakeStep(Context& ctx, backup::Keeper* keeper, int64_t now_ms) {
  co_return co_await ctx.Step(
      "take",
      [keeper, now_ms](const StepInfo&) -> Task<Result<std::string>> {
        if (!keeper) co_return FailedPrecondition("this node keeps no backups");
        auto taken = co_await keeper->TakeScheduled(backup::ScheduledName(now_ms), now_ms);
        if (!taken.ok()) co_return taken.status();
        co_return taken->path;
      },
      workflows::RetryPolicy::Once());
}

// Step prune: the scheduled backups beyond `keep` removed. The paths removed, as a JSON array.
Task<Result<std::string>> PruneStep(Context& ctx, backup::Keeper* keeper) {
  co_return co_await ctx.Step(
      "prune",
      [keeper](const StepInfo&) -> Task<Result<std::string>> {
        if (!keeper) co_return FailedPrecondition("this node keeps no backups");
        auto removed = co_await keeper->Prune();
        if (!removed.ok()) co_return removed.status();
        co_return json::serialize(json::array(removed->begin(), removed->end()));
      },
      workflows::RetryPolicy::Once());
}

// Step alert: `what` to #alerts-critical, with a ping; then `failure`, the workflow's end.
Task<Result<std::string>> AlertAndFail(const flows::Deps& d, Context& ctx, std::string what,
                                       Status failure) {
  if (!ctx.fatal().ok()) co_return ctx.fatal();
  Status s = co_await flows::Notify(d, ctx, "alert", {"alerts-critical", std::move(what), true});
  if (!s.ok() && !ctx.fatal().ok()) co_return ctx.fatal();
  co_return failure;
}

}  // namespace

workflows::StartRequest BackupStart(int64_t day) { return ScheduledStart(kBackup, "day", day); }

Task<Result<std::string>> JournalBackup(const flows::Deps& d, backup::Keeper* keeper,
                                        Context& ctx) {
  auto now = co_await ctx.Now();
  if (!now.ok()) co_return now.status();
  auto taken = co_await TakeStep(ctx, keeper, *now);
  if (!taken.ok()) {
    co_return co_await AlertAndFail(
        d, ctx, "The daily journal backup failed: " + taken.status().message() + ".",
        taken.status());
  }
  auto recorded = co_await ctx.TxnStep(
      "record",
      [path = *taken, at = *now](journal::Txn& t, const StepInfo&) -> Result<std::string> {
        proto::JournalBackup b;
        b.set_taken_ms(at);
        b.set_path(path);
        fleet::PutLastJournalBackup(t, b);
        return path;
      });
  if (!recorded.ok()) co_return recorded.status();
  auto pruned = co_await PruneStep(ctx, keeper);
  if (!pruned.ok()) {
    co_return co_await AlertAndFail(
        d, ctx,
        "The daily journal backup was taken (" + *taken +
            ") but the old ones could not be pruned: " + pruned.status().message() + ".",
        pruned.status());
  }
  co_return json::serialize(json::object{{"path", *taken}, {"pruned", json::parse(*pruned)}});
}

}  // namespace zlh::controller
