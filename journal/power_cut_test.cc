// Power-loss property test: a SIGKILL keeps the kernel's page cache, so only a simulated power cut
// (PowerCutFs: everything not fsynced is lost) shows that an append acknowledged OK is durable.
// Random concurrent appends (pipelined per thread, so the writer folds them into groups) run on a
// journal over PowerCutFs; power goes at a random moment; the journal is shut down, the unsynced
// bytes dropped (sometimes keeping a random part of them, as a kernel may have written some back),
// and the journal reopened, up to three times per run. After each cut: the journal opens and its
// files verify (Journal::VerifyFiles); every append whose callback ran with OK is there; each
// thread's stream is a gap-free prefix of what it appended (the log never keeps a later append and
// loses an earlier one); and each append is whole (its event and its domain row agree).
//
// The number of runs is rapidcheck's max_success (RC_PARAMS="max_success=N"; default 100). The
// seed prints first; RC_PARAMS="seed=S noshrink=1" reruns the same plans (the cut lands in real
// time, so a rerun cuts at the same delay, not necessarily at the same append).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <ostream>
#include <thread>

#include "base/temp_dir.h"
#include "journal/format.h"
#include "journal/journal.h"
#include "journal/power_cut_fs.h"

namespace zlh::journal {
namespace {

struct Plan {
  int threads = 1;
  int appends_per_thread = 1;
  int in_flight = 1;      // appends a thread has queued and not yet seen the callback of
  int value_bytes = 10;   // payload of each event
  std::vector<int> cut_after_us;  // one power cut per entry, this long after the appends start
  bool keep_some_unsynced = false;
};

// For rapidcheck's report of a failing plan.
void showValue(const Plan& plan, std::ostream& os) {
  os << "{threads " << plan.threads << ", appends per thread " << plan.appends_per_thread
     << ", in flight " << plan.in_flight << ", value bytes " << plan.value_bytes << ", cuts after us [";
  for (int us : plan.cut_after_us) os << " " << us;
  os << " ], keep some unsynced " << plan.keep_some_unsynced << "}";
}

std::string Stream(int thread) { return "stream-" + std::to_string(thread); }
std::string LastKey(int thread) { return "last-" + std::to_string(thread); }

std::string Payload(int thread, uint64_t seq, int bytes) {
  std::string p = std::to_string(thread) + "/" + std::to_string(seq) + ":";
  p.resize(static_cast<size_t>(std::max<int>(bytes, static_cast<int>(p.size()))), 'x');
  return p;
}

// One appending thread's progress.
struct Progress {
  uint64_t next_seq = 1;  // the first seq of this power-on
  uint64_t acked = 0;     // the highest seq whose callback ran with OK (callbacks run in order)
};

// Appends plan.appends_per_thread events from next_seq on, keeping up to plan.in_flight queued,
// until one fails (the power is cut: the journal fail-stops). Returns once every callback ran.
void AppendUntilFailure(Journal& j, const Plan& plan, int thread, Progress& progress) {
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  bool failed = false;
  for (int i = 0; i < plan.appends_per_thread; ++i) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return outstanding < plan.in_flight || failed; });
      if (failed) break;
      ++outstanding;
    }
    uint64_t seq = progress.next_seq + static_cast<uint64_t>(i);
    proto::Event e;
    e.set_seq(seq);
    e.mutable_step_completed()->set_result(Payload(thread, seq, plan.value_bytes));
    Batch b;
    b.PutEvent(Stream(thread), e);
    std::string encoded;
    PutU64(&encoded, seq);
    b.Put(Cf::kDomain, LastKey(thread), encoded);
    j.Append(std::move(b), nullptr, [&, seq](Status s) {
      std::lock_guard lock(mu);
      if (s.ok()) {
        progress.acked = std::max(progress.acked, seq);
      } else {
        failed = true;
      }
      --outstanding;
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return outstanding == 0; });
}

// Checks the reopened journal against what each thread saw acknowledged; advances next_seq past
// what survived.
void CheckSurvivors(const Journal& j, const Plan& plan, std::vector<Progress>& progress) {
  for (int t = 0; t < plan.threads; ++t) {
    Progress& p = progress[static_cast<size_t>(t)];
    auto events = j.ReadEvents(Stream(t));
    RC_ASSERT(events.ok());
    uint64_t kept = events->size();
    // Every acknowledged append survived...
    if (kept < p.acked) {
      RC_FAIL(Stream(t) + ": appends up to seq " + std::to_string(p.acked) +
              " were acknowledged, only " + std::to_string(kept) + " survived the power cut");
    }
    // ...as a gap-free prefix of what was appended, each event as written...
    for (uint64_t i = 0; i < kept; ++i) {
      const proto::Event& e = (*events)[i];
      if (e.seq() != i + 1) {
        RC_FAIL(Stream(t) + ": seq " + std::to_string(e.seq()) + " at position " +
                std::to_string(i + 1) + " (a gap)");
      }
      RC_ASSERT(e.step_completed().result() == Payload(t, i + 1, plan.value_bytes));
    }
    // ...and whole: the domain row written in the same append names the last event.
    auto last = j.Get(Cf::kDomain, LastKey(t));
    RC_ASSERT(last.ok());
    uint64_t last_seq = last->has_value() ? GetU64(**last) : 0;
    if (last_seq != kept) {
      RC_FAIL(Stream(t) + ": " + std::to_string(kept) + " events survived, but the domain row " +
              "of the same appends says " + std::to_string(last_seq) + " (a torn append)");
    }
    RC_CLASSIFY(kept > p.acked, "unacknowledged appends survived");
    p.next_seq = kept + 1;
    p.acked = kept;
  }
}

void RunPlan(const Plan& plan) {
  TempDir tmp;
  auto fs = std::make_shared<PowerCutFs>();
  Options options;
  options.file_system = fs;
  std::vector<Progress> progress(static_cast<size_t>(plan.threads));
  uint64_t dropped = 0;
  for (int cut_after_us : plan.cut_after_us) {
    auto opened = Journal::Open(tmp.Sub("journal"), options);
    RC_ASSERT(opened.ok());
    std::unique_ptr<Journal> j = std::move(opened).value();
    std::vector<std::thread> threads;
    for (int t = 0; t < plan.threads; ++t) {
      threads.emplace_back(
          [&, t] { AppendUntilFailure(*j, plan, t, progress[static_cast<size_t>(t)]); });
    }
    std::this_thread::sleep_for(std::chrono::microseconds(cut_after_us));
    fs->Cut();
    for (auto& t : threads) t.join();
    j.reset();  // its shutdown writes fail: nothing more reaches the disk
    RC_ASSERT(fs->DropUnsynced(plan.keep_some_unsynced ? 0.5 : 0).ok());
    dropped += fs->dropped_bytes();

    auto reopened = Journal::Open(tmp.Sub("journal"), options);
    if (!reopened.ok()) RC_FAIL("the journal does not open after the cut: " + reopened.status().ToString());
    Status files = (*reopened)->VerifyFiles();
    if (!files.ok()) RC_FAIL("the journal's files do not verify after the cut: " + files.ToString());
    CheckSurvivors(**reopened, plan, progress);
  }
  RC_CLASSIFY(dropped > 0, "unsynced bytes dropped");
}

rc::Gen<Plan> GenPlan() {
  return rc::gen::build<Plan>(
      rc::gen::set(&Plan::threads, rc::gen::inRange(1, 7)),
      rc::gen::set(&Plan::appends_per_thread, rc::gen::inRange(1, 150)),
      rc::gen::set(&Plan::in_flight, rc::gen::inRange(1, 9)),
      rc::gen::set(&Plan::value_bytes,
                   rc::gen::oneOf(rc::gen::inRange(1, 200), rc::gen::inRange(200, 40000))),
      rc::gen::set(&Plan::cut_after_us,
                   rc::gen::container<std::vector<int>>(*rc::gen::inRange<size_t>(1, 4),
                                                        rc::gen::inRange(0, 40000))),
      rc::gen::set(&Plan::keep_some_unsynced, rc::gen::arbitrary<bool>()));
}

RC_GTEST_PROP(PowerCutTest, AcknowledgedAppendsSurviveAPowerCut, ()) {
  Plan plan = *GenPlan();
  RC_LOG() << "plan: ";
  showValue(plan, RC_LOG());
  RC_LOG() << "\n";
  RunPlan(plan);
}

}  // namespace
}  // namespace zlh::journal
