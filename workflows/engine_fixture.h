// EngineFixture: a GoogleTest fixture that runs an engine on an io_context driven by the test
// thread, for the tests of workflows/ and scheduler/. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "base/temp_dir.h"
#include "journal/format.h"
#include "journal/journal.h"
#include "workflows/engine.h"

namespace zlh::workflows {

// Restart() simulates a process restart
// (the engine and the journal are closed and reopened on the same directory).
class EngineFixture : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override { Close(Millis(0)); }

  void Open() {
    auto j = journal::Journal::Open(dir_.path(), journal_options_);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    journal_ = std::move(j).value();
    io_ = std::make_unique<boost::asio::io_context>();
    work_ = std::make_unique<Work>(io_->get_executor());
    engine_ = std::make_unique<Engine>(*io_, *journal_, registry_, options_);
  }
  // Drains with `deadline`, then drops everything still in memory, as a crash would.
  void Close(Millis deadline) {
    if (!engine_) return;
    BeforeClose();
    Await(engine_->Drain(deadline));
    engine_.reset();
    // The journal first: its last callbacks post to the io_context, which never runs them.
    journal_.reset();
    work_.reset();
    io_.reset();  // destroys the suspended coroutines
  }
  // A fixture's own users of the event loop and the journal stop here, while both still run.
  virtual void BeforeClose() {}
  void Restart(Millis drain = Millis(0)) {
    Close(drain);
    Open();
    ASSERT_TRUE(Await(engine_->Recover()).ok());
  }

  template <typename T>
  T Await(Task<T> task, std::chrono::seconds deadline = std::chrono::seconds(30)) {
    auto future = boost::asio::co_spawn(*io_, std::move(task), boost::asio::use_future);
    auto until = std::chrono::steady_clock::now() + deadline;
    while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      if (std::chrono::steady_clock::now() > until) {
        ADD_FAILURE() << "timed out waiting";
        break;
      }
      io_->run_one_for(std::chrono::milliseconds(10));
    }
    return future.get();
  }
  // Runs the event loop until `done()` or the deadline.
  bool RunUntil(const std::function<bool()>& done, std::chrono::seconds deadline = std::chrono::seconds(30)) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      io_->run_one_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  std::string StartOk(const std::string& type, const std::string& input = "",
                      const std::string& dedup = "") {
    auto r = Await(engine_->Start({type, input, dedup}));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->id : "";
  }
  proto::WorkflowSummary AwaitEnd(const std::string& id) {
    auto r = Await(engine_->AwaitTerminal(id));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : proto::WorkflowSummary();
  }
  std::vector<proto::Event> Events(const std::string& id) { return *journal_->ReadEvents(id); }
  // Runs the event loop until the journal (not just the live summary, which runs ahead of the
  // write) holds workflow `id` in `status`.
  bool RunUntilDurably(const std::string& id, int status) {
    return RunUntil([&] {
      return journal_->Get(journal::Cf::kIndex, journal::StatusIndexKey(status, id))->has_value();
    });
  }

  using Work = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  TempDir dir_;
  Registry registry_;
  EngineOptions options_;
  journal::Options journal_options_;
  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<Work> work_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace zlh::workflows
