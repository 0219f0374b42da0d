// The journald sink against a socket the test binds: the fields of a record, a value with a newline
// length-prefixed and parsed back, the level as a syslog priority, an entry too large for a
// datagram in a sealed memfd, the fallback when journald is gone, and a workflow's lines carrying
// its id, type and server on every resumption (the engine's log context).
#include "systemd/journal_sink.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "base/log_context.h"
#include "base/temp_dir.h"
#include "systemd/test_socket.h"
#include "workflows/engine_fixture.h"

namespace zlh::systemd {
namespace {

using namespace std::chrono_literals;
using Entry = std::map<std::string, std::string>;

// A TestSocket where journald's would be and a logger writing to it through a JournalSink.
class Journald {
 public:
  explicit Journald(FILE* fallback = nullptr) : socket_(tmp_.Sub("journal.socket")) {
    auto sink = JournalSink::Open("zlhd", socket_.address(), fallback);
    EXPECT_TRUE(sink.ok()) << sink.status().ToString();
    if (!sink.ok()) return;
    sink_ = *sink;
    logger_ = std::make_shared<spdlog::logger>("test", sink_);
    logger_->set_level(spdlog::level::trace);
    logger_->set_pattern("%l %v");
  }
  // The next entry, decoded (empty, with a failure, when none comes or it is malformed).
  Entry Next() {
    auto r = socket_.Receive(5s);
    if (!r) {
      ADD_FAILURE() << "no journal entry";
      return {};
    }
    auto fields = DecodeJournalEntry(r->data);
    EXPECT_TRUE(fields) << "malformed entry: " << r->data;
    return fields.value_or(Entry());
  }
  std::optional<Received> NextRaw() { return socket_.Receive(5s); }

  TempDir tmp_;
  TestSocket socket_;
  std::shared_ptr<JournalSink> sink_;
  std::shared_ptr<spdlog::logger> logger_;
};

TEST(JournalSinkTest, ARecordCarriesMessagePriorityAndIdentifier) {
  Journald journald;
  journald.logger_->warn("disk {} is full", "/var");
  Entry e = journald.Next();
  EXPECT_EQ(e["MESSAGE"], "disk /var is full");
  EXPECT_EQ(e["PRIORITY"], "4");
  EXPECT_EQ(e["SYSLOG_IDENTIFIER"], "zlhd");
  EXPECT_EQ(e.count("WORKFLOW_ID"), 0u);
  EXPECT_EQ(e.count("SERVER_ID"), 0u);
}

TEST(JournalSinkTest, TheLevelBecomesTheSyslogPriority) {
  Journald journald;
  const std::pair<spdlog::level::level_enum, const char*> levels[] = {
      {spdlog::level::trace, "7"}, {spdlog::level::debug, "7"}, {spdlog::level::info, "6"},
      {spdlog::level::warn, "4"},  {spdlog::level::err, "3"},   {spdlog::level::critical, "2"}};
  for (auto [level, priority] : levels) {
    journald.logger_->log(level, "at {}", priority);
    EXPECT_EQ(journald.Next()["PRIORITY"], priority) << spdlog::level::to_string_view(level).data();
  }
}

TEST(JournalSinkTest, AValueWithANewlineIsLengthPrefixed) {
  EXPECT_EQ(EncodeJournalEntry({{"A", "one"}, {"B", "x\ny"}}),
            std::string("A=one\nB\n\x03\0\0\0\0\0\0\0x\ny\n", 20));
  Journald journald;
  journald.logger_->error("first line\nsecond line");
  auto raw = journald.NextRaw();
  ASSERT_TRUE(raw);
  EXPECT_NE(raw->data.find(std::string("MESSAGE\n\x16\0\0\0\0\0\0\0first line\nsecond line\n", 39)),
            std::string::npos);
  auto e = DecodeJournalEntry(raw->data);
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["MESSAGE"], "first line\nsecond line");
  EXPECT_EQ((*e)["PRIORITY"], "3");
}

TEST(JournalSinkTest, TheLogContextAddsWorkflowAndServerFields) {
  Journald journald;
  logging::Fields fields{"wf-7", "provision", ""};
  {
    logging::Scope scope(&fields);
    journald.logger_->info("allocating");
    logging::SetServerId("srv-3");
    journald.logger_->info("allocated");
  }
  journald.logger_->info("outside");
  Entry before = journald.Next(), after = journald.Next(), outside = journald.Next();
  EXPECT_EQ(before["WORKFLOW_ID"], "wf-7");
  EXPECT_EQ(before["WORKFLOW_TYPE"], "provision");
  EXPECT_EQ(before.count("SERVER_ID"), 0u);
  EXPECT_EQ(after["SERVER_ID"], "srv-3");
  EXPECT_EQ(outside.count("WORKFLOW_ID"), 0u);
}

TEST(JournalSinkTest, AnEntryTooLargeForADatagramGoesInASealedMemfd) {
  Journald journald;
  std::string big(1 << 19, 'x');  // more than a datagram may carry
  journald.logger_->info("{}", big);
  auto raw = journald.NextRaw();
  ASSERT_TRUE(raw);
  EXPECT_TRUE(raw->in_memfd);
  int all = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
  EXPECT_EQ(raw->memfd_seals & all, all);
  auto e = DecodeJournalEntry(raw->data);
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["MESSAGE"], big);
}

TEST(JournalSinkTest, NothingListeningIsUnavailable) {
  TempDir tmp;
  auto sink = JournalSink::Open("zlhd", tmp.Sub("no-journal.socket"));
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), Code::kUnavailable);
  EXPECT_NE(sink.status().message().find("nothing listens on"), std::string::npos);
}

TEST(JournalSinkTest, ARecordJournaldDoesNotTakeGoesToTheFallback) {
  FILE* fallback = std::tmpfile();
  ASSERT_NE(fallback, nullptr);
  Journald journald(fallback);
  journald.logger_->info("taken");
  EXPECT_EQ(journald.Next()["MESSAGE"], "taken");
  journald.socket_.Close();  // journald went away
  journald.logger_->warn("not taken");
  journald.logger_->flush();
  EXPECT_EQ(journald.sink_->fallbacks(), 1u);
  std::rewind(fallback);
  char line[256] = {};
  ASSERT_NE(std::fgets(line, sizeof line, fallback), nullptr);
  EXPECT_STREQ(line, "warning not taken\n");
  std::fclose(fallback);
}

// Workflows run by the engine with the journald sink as the default logger.
class JournalWorkflowTest : public workflows::EngineFixture {
 protected:
  void SetUp() override {
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(journald_.logger_);
    workflows::EngineFixture::SetUp();
  }
  void TearDown() override {
    workflows::EngineFixture::TearDown();
    spdlog::set_default_logger(previous_);
  }
  // Every entry until one whose message is `last`.
  std::vector<Entry> EntriesUntil(const std::string& last) {
    std::vector<Entry> out;
    while (out.empty() || out.back()["MESSAGE"] != last) {
      out.push_back(journald_.Next());
      if (out.back().empty()) break;
    }
    return out;
  }

  Journald journald_;
  std::shared_ptr<spdlog::logger> previous_;
};

// A workflow that logs after each kind of await: a step and its own I/O, a transactional step
// (resumed by the journal's completion) and a durable timer. It acts on server "srv-<input>".
workflows::Task<Result<std::string>> LogsAcrossAwaits(workflows::Context& ctx) {
  spdlog::info("{} begins", ctx.id());
  auto stepped = co_await ctx.Step(
      "wait_a_little", [](const workflows::StepInfo&) -> workflows::Task<Result<std::string>> {
        boost::asio::steady_timer t(co_await boost::asio::this_coro::executor, 5ms);
        co_await t.async_wait(boost::asio::use_awaitable);
        co_return "ok";
      });
  if (!stepped.ok()) co_return stepped.status();
  spdlog::info("{} stepped", ctx.id());
  logging::SetServerId("srv-" + ctx.input());
  auto recorded = co_await ctx.TxnStep(
      "record", [](journal::Txn&, const workflows::StepInfo&) -> Result<std::string> {
        return std::string("recorded");
      });
  if (!recorded.ok()) co_return recorded.status();
  spdlog::info("{} recorded", ctx.id());
  ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(10)));
  spdlog::info("{} slept", ctx.id());
  co_return "done";
}

// Two of them interleave: each of their lines names its own workflow (and, once it is known, its
// server), the engine's line about its end too, and a line logged outside them names none.
TEST_F(JournalWorkflowTest, AWorkflowsLinesCarryItsIdTypeAndServer) {
  ASSERT_TRUE(registry_.Register("logs", "default", LogsAcrossAwaits).ok());
  std::string a = StartOk("logs", "a"), b = StartOk("logs", "b");
  AwaitEnd(a);
  AwaitEnd(b);
  spdlog::info("the end");
  int workflow_lines = 0;
  for (Entry& e : EntriesUntil("the end")) {
    const std::string& m = e["MESSAGE"];
    std::string id = m.find(a) != std::string::npos ? a : m.find(b) != std::string::npos ? b : "";
    if (id.empty()) {
      EXPECT_EQ(e.count("WORKFLOW_ID"), 0u) << m;
      continue;
    }
    ++workflow_lines;
    EXPECT_EQ(e["WORKFLOW_ID"], id) << m;
    EXPECT_EQ(e["WORKFLOW_TYPE"], "logs") << m;
    bool server_known = m.find("begins") == std::string::npos &&
                        m.find("stepped") == std::string::npos;  // set after "stepped"
    if (server_known) EXPECT_EQ(e["SERVER_ID"], id == a ? "srv-a" : "srv-b") << m;
  }
  EXPECT_EQ(workflow_lines, 10);  // begins, stepped, recorded, slept, completed: for each
}

}  // namespace
}  // namespace zlh::systemd
