// Crash property tests (SPEC §8.1): random workflow shapes run in a child process that is killed
// with SIGKILL at random moments, possibly several times, then run to the end. Checks: every
// workflow ends as a crash-free run would (unless an at-most-once step was interrupted, which must
// then fail it), no step with a recorded result ran again, no at-most-once step ran twice, every
// transaction applied exactly once, and the journal passes Verify (no gap in any history,
// summaries and indexes consistent).
//
// The number of schedules is rapidcheck's max_success (RC_PARAMS="max_success=N"; default 100);
// the seed prints first (RC_PARAMS="seed=S" reruns the same shapes; the kill timings are real
// time, so run with noshrink=1 to keep the first failure's message).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "base/temp_dir.h"
#include "journal/format.h"
#include "journal/journal.h"
#include "tests/crash_shape.h"
#include "workflows/history.h"
#include "workflows/verify.h"

namespace zlh::crash {
namespace {

using namespace std::chrono_literals;

struct Schedule {
  std::vector<std::vector<StepShape>> workflows;
  std::vector<int> kill_after_ms;  // one child killed per entry, then one run to the end
};

rc::Gen<StepShape> GenStep() {
  return rc::gen::oneOf(
      rc::gen::map(rc::gen::inRange<uint32_t>(0, 4), [](uint32_t f) { return StepShape{'n', f}; }),
      rc::gen::map(rc::gen::inRange<uint32_t>(0, 2), [](uint32_t f) { return StepShape{'n', f}; }),
      rc::gen::just(StepShape{'a', 0}), rc::gen::just(StepShape{'t', 0}),
      rc::gen::just(StepShape{'w', 0}),
      rc::gen::map(rc::gen::inRange<uint32_t>(1, 60), [](uint32_t ms) { return StepShape{'z', ms}; }));
}

rc::Gen<Schedule> GenSchedule() {
  auto workflow = rc::gen::container<std::vector<StepShape>>(
      *rc::gen::inRange<size_t>(1, 7), GenStep());
  return rc::gen::build<Schedule>(
      rc::gen::set(&Schedule::workflows,
                   rc::gen::resize(4, rc::gen::nonEmpty(rc::gen::container<std::vector<std::vector<StepShape>>>(workflow)))),
      // 1-4 kills, mostly while the worker is busy (it runs for a few tens of milliseconds).
      rc::gen::set(&Schedule::kill_after_ms,
                   rc::gen::container<std::vector<int>>(*rc::gen::inRange<size_t>(1, 5),
                                                        rc::gen::inRange(0, 60))));
}

// Runs the worker; kills it after `kill_after` unless negative. Returns its exit status (or -1
// when killed).
int RunWorker(const TempDir& dir, int incarnation, int kill_after_ms) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the parent
    std::string inc = std::to_string(incarnation);
    execl(ZLH_CRASH_WORKER, ZLH_CRASH_WORKER, dir.Sub("journal").c_str(), dir.Sub("spec").c_str(),
          dir.Sub("effects").c_str(), inc.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() +
                  (kill_after_ms >= 0 ? std::chrono::milliseconds(kill_after_ms) : 120'000ms);
  int status = 0;
  for (;;) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(1ms);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return kill_after_ms >= 0 ? -1 : -3;  // -3: the final run did not finish in time
}

struct Effect {
  uint32_t attempt;
  int incarnation;
};

void CheckSchedule(const Schedule& schedule) {
  TempDir dir;
  {
    std::ofstream spec(dir.Sub("spec"));
    for (size_t i = 0; i < schedule.workflows.size(); ++i) {
      spec << "wf" << i << " " << FormatShape(schedule.workflows[i]) << "\n";
    }
  }
  int incarnation = 0, killed = 0;
  for (int kill_after : schedule.kill_after_ms) {
    int rc = RunWorker(dir, ++incarnation, kill_after);
    RC_ASSERT(rc == -1 || rc == 0);
    killed += rc == -1;
  }
  RC_CLASSIFY(killed > 0, "killed mid-run");
  RC_ASSERT(RunWorker(dir, ++incarnation, -1) == 0);

  // (workflow id, step) -> executions
  std::map<std::pair<std::string, uint32_t>, std::vector<Effect>> effects;
  {
    std::ifstream in(dir.Sub("effects"));
    std::string id;
    uint32_t step, attempt;
    int inc;
    while (in >> id >> step >> attempt >> inc) effects[{id, step}].push_back({attempt, inc});
  }

  auto journal = journal::Journal::Open(dir.Sub("journal"));
  RC_ASSERT(journal.ok());
  // The journal's own invariants: gap-free streams, summaries and indexes that agree.
  auto violations = workflows::Verify(**journal);
  RC_ASSERT(violations.ok());
  for (const auto& v : *violations) RC_LOG() << v.subject << ": " << v.what << "\n";
  RC_ASSERT(violations->empty());
  for (size_t w = 0; w < schedule.workflows.size(); ++w) {
    const auto& steps = schedule.workflows[w];
    auto id_value = (*journal)->Get(journal::Cf::kIndex, journal::DedupIndexKey("wf" + std::to_string(w)));
    RC_ASSERT(id_value.ok() && id_value->has_value());
    std::string id = **id_value;
    auto summary = (*journal)->ReadSummary(id);
    RC_ASSERT(summary.ok() && summary->has_value());
    auto events = (*journal)->ReadEvents(id);
    RC_ASSERT(events.ok());
    auto history = workflows::History::Fold(*events);  // also checks there is no gap
    RC_ASSERT(history.ok());

    // What a crash-free run gives.
    std::string expected_result;
    std::string expected_error;
    for (size_t i = 0; i < steps.size(); ++i) {
      if (steps[i].kind == 'n' && steps[i].param >= kMaxAttempts) {
        expected_error = "unavailable";
        break;
      }
      expected_result += StepResult(steps[i], i);
    }
    bool interrupted = false;
    for (const auto& e : *events) {
      interrupted |= e.has_step_failed() && e.step_failed().error().code() == "interrupted";
    }
    const proto::WorkflowSummary& s = **summary;
    RC_CLASSIFY(interrupted, "at-most-once step interrupted");
    if (interrupted) {
      RC_ASSERT(s.status() == proto::FAILED);
      RC_ASSERT(s.error().code() == "interrupted");
    } else if (expected_error.empty()) {
      RC_ASSERT(s.status() == proto::COMPLETED);
      RC_ASSERT(s.result() == expected_result);
    } else {
      RC_ASSERT(s.status() == proto::FAILED);
      RC_ASSERT(s.error().code() == expected_error);
    }

    for (const auto& [n, h] : history->steps) {
      const auto& runs = effects[{id, n}];
      char kind = h.name.empty() ? '?' : h.name[0];
      if (kind == 'a') RC_ASSERT(runs.size() <= 1u);  // at most once, crash or not
      if (kind == 't') {
        auto row = (*journal)->Get(journal::Cf::kDomain, TxnRow(id, n));
        RC_ASSERT(row.ok());
        RC_ASSERT(row->has_value() == h.result.has_value());
      }
      if (h.result && kind == 'n') {
        // Nothing ran after the result was recorded: no later attempt, and the recorded attempt
        // ran at most once per incarnation (re-runs only where a crash lost its outcome).
        RC_ASSERT(*h.result == StepResult(steps[n - 1], n - 1));
        uint32_t recorded_attempt = 0;
        for (const auto& e : *events) {
          if (e.has_step_completed() && e.step_completed().step() == n) {
            recorded_attempt = e.step_completed().attempt();
          }
        }
        std::map<int, int> per_incarnation;
        for (const Effect& run : runs) {
          RC_ASSERT(run.attempt <= recorded_attempt);
          if (run.attempt == recorded_attempt) RC_ASSERT(++per_incarnation[run.incarnation] == 1);
        }
      }
    }
  }
}

TEST(CrashTest, KilledWorkersResumeWithoutRerunningRecordedSteps) {
  EXPECT_TRUE(rc::check("random shapes survive random SIGKILLs",
                        [] { CheckSchedule(*GenSchedule()); }));
}

}  // namespace
}  // namespace zlh::crash
