// The notification outbox's tables on a real journal: the id sequence, the pending index kept in
// step with the deliveries, paging, pruning, and what zlh-journal verify reports when they
// disagree.
#include "fleet/outbox.h"

#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <mutex>

#include "base/temp_dir.h"
#include "fleet/verify.h"
#include "journal/format.h"

namespace zlh::fleet {
namespace {

using Pending = std::map<std::string, std::vector<uint64_t>>;

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto j = journal::Journal::Open(dir_.path());
    ASSERT_TRUE(j.ok());
    journal_ = std::move(*j);
  }

  static Intent Message(std::string channel, std::string content = "text") {
    Intent intent;
    intent.key = "wf:" + content;
    intent.channel = std::move(channel);
    intent.content = std::move(content);
    return intent;
  }
  Status Write(journal::TxnFn fn) { return journal_->AppendSync({}, std::move(fn)); }
  uint64_t Enqueue(const std::string& channel, int64_t at_ms = 1'000) {
    uint64_t id = 0;
    EXPECT_TRUE(Write([&](journal::Txn& t) -> Status {
                  auto got = EnqueueNotification(t, Message(channel), at_ms);
                  if (got.ok()) id = *got;
                  return got.status();
                }).ok());
    return id;
  }
  proto::Notification Get(uint64_t id) {
    proto::Notification n;
    EXPECT_TRUE(Write([&](journal::Txn& t) -> Status {
                  auto got = GetNotification(t, id);
                  if (!got.ok()) return got.status();
                  if (!got->has_value()) return NotFound("no notification " + std::to_string(id));
                  n = **got;
                  return Status::Ok();
                }).ok());
    return n;
  }
  // Ends delivery `route` of entry `id` in `state` at `done_ms`.
  void End(uint64_t id, const std::string& route, proto::DeliveryState state, int64_t done_ms) {
    proto::Notification n = Get(id);
    for (auto& d : *n.mutable_deliveries()) {
      if (d.route() != route) continue;
      d.set_state(state);
      d.set_done_ms(done_ms);
    }
    ASSERT_TRUE(Write([&](journal::Txn& t) { return PutNotification(t, n); }).ok());
  }
  Pending PendingRows() { return *ListPending(*journal_); }
  std::string Violations() {
    auto v = VerifyDomain(*journal_);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    std::string out;
    for (const auto& x : *v) out += x.subject + ": " + x.what + "\n";
    return out;
  }
  std::vector<uint64_t> Ids(const NotificationFilter& filter, uint64_t* next = nullptr) {
    auto page = ListNotifications(*journal_, filter);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<uint64_t> ids;
    for (const auto& n : page->items) ids.push_back(n.id());
    if (next) *next = page->next;
    return ids;
  }

  TempDir dir_;
  std::unique_ptr<journal::Journal> journal_;
};

TEST_F(OutboxTest, IdsIncreaseInCommitOrderAndPendingIsIndexedPerRoute) {
  // Twenty appends queued at once (the writer folds them into groups): each takes the next id, in
  // the order they commit.
  std::mutex mu;
  std::vector<uint64_t> committed;
  std::vector<std::promise<Status>> done(20);
  for (size_t i = 0; i < done.size(); ++i) {
    std::string channel = i % 2 == 0 ? "alerts-critical" : "audit-log";
    journal_->Append(
        {},
        [&, channel, i](journal::Txn& t) -> Status {
          auto id = EnqueueNotification(t, Message(channel, "m" + std::to_string(i)), 1'000);
          if (!id.ok()) return id.status();
          std::lock_guard lock(mu);
          committed.push_back(*id);
          return Status::Ok();
        },
        [&done, i](Status s) { done[i].set_value(s); });
  }
  for (auto& d : done) ASSERT_TRUE(d.get_future().get().ok());
  ASSERT_EQ(committed.size(), 20u);
  for (size_t i = 0; i < committed.size(); ++i) EXPECT_EQ(committed[i], i + 1);

  Pending pending = PendingRows();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending["discord:alerts-critical"].size(), 10u);
  EXPECT_EQ(pending["discord:audit-log"].size(), 10u);
  EXPECT_TRUE(
      std::is_sorted(pending["discord:audit-log"].begin(), pending["discord:audit-log"].end()));

  proto::Notification first = Get(committed[0]);
  EXPECT_EQ(first.channel(), "alerts-critical");
  EXPECT_EQ(first.recorded_ms(), 1'000);
  EXPECT_EQ(first.origin(), proto::ORIGIN_WORKFLOW);
  ASSERT_EQ(first.deliveries_size(), 1);
  EXPECT_EQ(first.deliveries(0).route(), DiscordRoute("alerts-critical"));
  EXPECT_EQ(first.deliveries(0).state(), proto::DELIVERY_PENDING);
  EXPECT_EQ(NotificationStatus(first), "pending");
  EXPECT_EQ(*NextNotificationId(*journal_), 21u);
}

// What a dispatcher reads between its writes: the committed entry, the same as a Txn sees it.
TEST_F(OutboxTest, AnEntryReadsTheSameFromTheJournalAsInATxn) {
  uint64_t id = Enqueue("alerts-critical");
  auto committed = GetNotification(*journal_, id);
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  ASSERT_TRUE(committed->has_value());
  EXPECT_EQ((*committed)->SerializeAsString(), Get(id).SerializeAsString());
  auto absent = GetNotification(*journal_, id + 1);
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
}

TEST_F(OutboxTest, ARefusedIntentOrAnAbortedWriteTakesNoId) {
  Status s = Write([](journal::Txn& t) { return EnqueueNotification(t, Message(""), 1).status(); });
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  s = Write([](journal::Txn& t) {
    return EnqueueNotification(t, Message(std::string("a\0b", 3)), 1).status();
  });
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  s = Write([](journal::Txn& t) -> Status {
    if (!EnqueueNotification(t, Message("alerts"), 1).ok()) return Internal("unexpected");
    return FailedPrecondition("the decision was refused");  // its intent goes with it
  });
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_TRUE(PendingRows().empty());
  EXPECT_EQ(Enqueue("alerts"), 1u);
}

TEST_F(OutboxTest, DeliveredAndFailedLeaveThePendingIndex) {
  uint64_t a1 = Enqueue("a"), a2 = Enqueue("a"), b = Enqueue("b");
  End(a1, "discord:a", proto::DELIVERY_DELIVERED, 2'000);
  EXPECT_EQ(PendingRows(), (Pending{{"discord:a", {a2}}, {"discord:b", {b}}}));
  EXPECT_EQ(NotificationStatus(Get(a1)), "delivered");

  // b is refused by Discord and goes by email instead: pending until the email is sent.
  proto::Notification n = Get(b);
  n.mutable_deliveries(0)->set_state(proto::DELIVERY_FAILED);
  proto::Delivery* email = n.add_deliveries();
  email->set_route(kEmailRoute);
  email->set_state(proto::DELIVERY_PENDING);
  ASSERT_TRUE(Write([&](journal::Txn& t) { return PutNotification(t, n); }).ok());
  EXPECT_EQ(PendingRows(), (Pending{{"discord:a", {a2}}, {"email", {b}}}));
  EXPECT_EQ(NotificationStatus(Get(b)), "pending");
  End(b, kEmailRoute, proto::DELIVERY_DELIVERED, 3'000);
  EXPECT_EQ(NotificationStatus(Get(b)), "failed");  // Discord refused it, whatever email did
  EXPECT_EQ(PendingRows(), (Pending{{"discord:a", {a2}}}));
  EXPECT_EQ(Violations(), "");

  // Bad writes change nothing.
  n.set_id(99);
  EXPECT_EQ(Write([&](journal::Txn& t) { return PutNotification(t, n); }).code(), Code::kNotFound);
  n = Get(a2);
  *n.add_deliveries() = n.deliveries(0);
  EXPECT_EQ(Write([&](journal::Txn& t) { return PutNotification(t, n); }).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Get(a2).deliveries_size(), 1);
}

TEST_F(OutboxTest, PruneDeletesOnlyOldTerminalEntries) {
  uint64_t old_delivered = Enqueue("a", 1'000), old_failed = Enqueue("a", 1'000),
           old_pending = Enqueue("a", 1'000), new_delivered = Enqueue("a", 4'000);
  End(old_delivered, "discord:a", proto::DELIVERY_DELIVERED, 2'000);
  End(old_failed, "discord:a", proto::DELIVERY_FAILED, 2'000);
  End(new_delivered, "discord:a", proto::DELIVERY_DELIVERED, 6'000);
  auto prune = [&](int64_t delivered_before, int64_t failed_before, size_t limit) {
    size_t pruned = 0;
    EXPECT_TRUE(Write([&](journal::Txn& t) -> Status {
                  auto n = PruneNotifications(t, delivered_before, failed_before, limit);
                  if (n.ok()) pruned = *n;
                  return n.status();
                }).ok());
    return pruned;
  };
  // Failed entries are kept longer than delivered ones; the pending one is never deleted.
  EXPECT_EQ(prune(5'000, 1'500, 10), 1u);
  EXPECT_EQ(Ids({}), (std::vector<uint64_t>{new_delivered, old_pending, old_failed}));
  EXPECT_EQ(prune(5'000, 5'000, 0), 0u);  // the limit
  EXPECT_EQ(prune(5'000, 5'000, 10), 1u);
  EXPECT_EQ(Ids({}), (std::vector<uint64_t>{new_delivered, old_pending}));
  EXPECT_EQ(prune(100'000, 100'000, 10), 1u);
  EXPECT_EQ(Ids({}), (std::vector<uint64_t>{old_pending}));
  EXPECT_EQ(PendingRows(), (Pending{{"discord:a", {old_pending}}}));
  EXPECT_EQ(Violations(), "");
}

TEST_F(OutboxTest, PruneStopsAtTheFirstEntryRecordedAfterBothCutoffs) {
  uint64_t late = Enqueue("a", 9'000), skewed = Enqueue("a", 1'000);
  End(late, "discord:a", proto::DELIVERY_DELIVERED, 9'100);
  End(skewed, "discord:a", proto::DELIVERY_DELIVERED, 1'100);
  size_t pruned = 99;
  ASSERT_TRUE(Write([&](journal::Txn& t) -> Status {
                auto n = PruneNotifications(t, 5'000, 5'000, 10);
                if (n.ok()) pruned = *n;
                return n.status();
              }).ok());
  EXPECT_EQ(pruned, 0u);  // `skewed` waits for a later prune
}

TEST_F(OutboxTest, VerifyReportsAnIndexRowWithoutItsDelivery) {
  uint64_t a = Enqueue("a"), b = Enqueue("b");
  End(b, "discord:b", proto::DELIVERY_DELIVERED, 2'000);
  EXPECT_EQ(Violations(), "");
  std::string id_a, id_b;
  journal::PutU64(&id_a, a);
  journal::PutU64(&id_b, b);
  ASSERT_TRUE(Write([&](journal::Txn& t) {
                // a's entry is lost but not its row; b's row comes back although b was delivered.
                t.Delete(journal::Cf::kDomain, journal::DomainKey('o', id_a));
                t.Put(journal::Cf::kDomain,
                      journal::DomainKey('p', std::string("discord:b\0", 10) + id_b), "");
                return Status::Ok();
              }).ok());
  EXPECT_EQ(Violations(),
            "pending row discord:a 1: names no pending delivery of notification 1\n"
            "pending row discord:b 2: names no pending delivery of notification 2\n");
  uint64_t c = Enqueue("c");
  std::string id_c, next;
  journal::PutU64(&id_c, c);
  journal::PutU64(&next, c);
  ASSERT_TRUE(Write([&](journal::Txn& t) {
                // c's row is lost, and the sequence goes back to c.
                t.Delete(journal::Cf::kDomain,
                         journal::DomainKey('p', std::string("discord:c\0", 10) + id_c));
                t.Put(journal::Cf::kDomain, journal::DomainKey('q', "next"), next);
                return Status::Ok();
              }).ok());
  std::string v = Violations();
  EXPECT_NE(v.find("notification 3: not below the next id 3\n"), std::string::npos) << v;
  EXPECT_NE(v.find("notification 3: its delivery on discord:c is pending but not indexed\n"),
            std::string::npos)
      << v;
}

TEST_F(OutboxTest, ListNotificationsPagesNewestFirstAndFiltersByStatusAndChannel) {
  for (int i = 0; i < 5; ++i) Enqueue(i < 3 ? "a" : "b");  // ids 1-3 on a, 4-5 on b
  End(1, "discord:a", proto::DELIVERY_DELIVERED, 2'000);
  End(2, "discord:a", proto::DELIVERY_FAILED, 2'000);
  End(4, "discord:b", proto::DELIVERY_DELIVERED, 2'000);
  uint64_t next = 0;
  EXPECT_EQ(Ids({.limit = 2}, &next), (std::vector<uint64_t>{5, 4}));
  EXPECT_EQ(next, 4u);
  EXPECT_EQ(Ids({.before = next, .limit = 2}, &next), (std::vector<uint64_t>{3, 2}));
  EXPECT_EQ(next, 2u);
  EXPECT_EQ(Ids({.before = next, .limit = 2}, &next), (std::vector<uint64_t>{1}));
  EXPECT_EQ(next, 0u);
  EXPECT_EQ(Ids({.limit = 3}, &next).size(), 3u);
  EXPECT_EQ(next, 3u);

  EXPECT_EQ(Ids({.status = "delivered"}), (std::vector<uint64_t>{4, 1}));
  EXPECT_EQ(Ids({.status = "failed"}), (std::vector<uint64_t>{2}));
  EXPECT_EQ(Ids({.status = "pending"}), (std::vector<uint64_t>{5, 3}));
  EXPECT_EQ(Ids({.status = "delivered", .channel = "a"}), (std::vector<uint64_t>{1}));
  EXPECT_EQ(Ids({.status = "delivered", .limit = 1}, &next), (std::vector<uint64_t>{4}));
  EXPECT_EQ(next, 4u);  // the cursor is the last id shown, whatever was skipped past it
  EXPECT_EQ(Ids({.status = "delivered", .before = next, .limit = 1}, &next),
            (std::vector<uint64_t>{1}));
  EXPECT_EQ(next, 0u);

  auto bad = ListNotifications(*journal_, {.status = "sent"});
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("status"), std::string::npos);
  EXPECT_EQ(ListNotifications(*journal_, {.limit = 0}).status().code(), Code::kInvalidArgument);
}

TEST_F(OutboxTest, NotificationsSinceAreOldestFirst) {
  Enqueue("a", 1'000);
  Enqueue("a", 500'000);
  Enqueue("a", 600'000);
  auto since = NotificationsSince(*journal_, 500'000);
  ASSERT_TRUE(since.ok());
  ASSERT_EQ(since->size(), 2u);
  EXPECT_EQ(since->at(0).id(), 2u);
  EXPECT_EQ(since->at(1).id(), 3u);
  EXPECT_TRUE(NotificationsSince(*journal_, 700'000)->empty());
}

}  // namespace
}  // namespace zlh::fleet
