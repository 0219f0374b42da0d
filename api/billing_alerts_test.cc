// The billing webhook's #alerts-billing notifications (SPEC §10), in-process over a real journal:
// a first invoice.payment_failed records one entry of the node's in the write that applies it and
// wakes the dispatcher; a redelivery, another event or a refused request records nothing; bad
// signatures write nothing and tell the sink once per burst.
#include "api/billing_alerts.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "api/admin_api.h"
#include "api/api_fixture.h"
#include "base/clock.h"
#include "fleet/outbox.h"

namespace zlh::api {
namespace {

// A billing event's body.
std::string Event(const std::string& id, const std::string& type, const std::string& customer) {
  return boost::json::serialize(boost::json::object{
      {"id", id}, {"type", type}, {"customerId", customer}, {"createdAt", "2026-11-27T10:00:00Z"}});
}

const std::string kPaymentFailed = Event("evt_pf1", "invoice.payment_failed", "c-9");

class BillingAlertsTest : public ApiFixture {
 protected:
  void SetUp() override {
    ApiFixture::SetUp();
    api_ = MakeApi([this](ApiDeps& deps) {
      deps.notified = [this] { ++woken_; };
      deps.on_signature_burst = [this](int64_t, int count) { bursts_.push_back(count); };
    });
  }

  Response Webhook(const std::string& body, const std::string& signature) {
    Request req;
    req.method = "POST";
    req.path = req.target = "/api/billing/webhook";
    req.body = body;
    req.headers["content-type"] = "application/json";
    if (!signature.empty()) req.headers["x-zlh-signature"] = signature;
    return Await(api_->Handle(req));
  }
  Response Signed(const std::string& body, const std::string& secret = "", int64_t skew = 0) {
    return Webhook(body, SignWebhook(body, secret.empty() ? tokens_.webhook_secret() : secret,
                                     NowMs() / 1000 + skew));
  }
  // What the outbox holds for #alerts-billing, newest first.
  std::vector<proto::Notification> Told() {
    fleet::NotificationFilter filter;
    filter.channel = kBillingChannel;
    auto page = fleet::ListNotifications(*journal_, filter);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->items : std::vector<proto::Notification>{};
  }
  static bool Applied(const Response& r) {
    return boost::json::parse(r.body).as_object().at("applied").as_bool();
  }

  std::unique_ptr<Api> api_;
  int woken_ = 0;
  std::vector<int> bursts_;
};

TEST_F(BillingAlertsTest, AFirstPaymentFailedIsRecordedWithItsEventAndWakesTheDispatcherOnce) {
  Response first = Signed(kPaymentFailed);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_TRUE(Applied(first));
  std::vector<proto::Notification> told = Told();
  ASSERT_EQ(told.size(), 1u);
  const proto::Notification& n = told[0];
  EXPECT_EQ(n.key(), "billing:evt_pf1");
  EXPECT_TRUE(n.ping());
  EXPECT_EQ(n.origin(), proto::ORIGIN_NODE);
  EXPECT_EQ(n.source(), "sys.billing.c-9");
  for (const char* said : {"payment failed", "customer c-9", "evt_pf1", "2026-11-27T10:00:00Z"}) {
    EXPECT_NE(n.content().find(said), std::string::npos) << said << " not in: " << n.content();
  }
  EXPECT_EQ(fleet::NotificationStatus(n), "pending");
  EXPECT_EQ(woken_, 1);

  // The same event again applies nothing and tells nothing; other events tell nothing.
  Response again = Signed(kPaymentFailed);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_FALSE(Applied(again));
  ASSERT_EQ(Signed(Event("evt_paid", "invoice.paid", "c-9")).status, 200);
  ASSERT_EQ(Signed(Event("evt_sus", "customer.suspended", "c-9")).status, 200);
  EXPECT_EQ(Told().size(), 1u);
  EXPECT_EQ(woken_, 1);

  // Another failed payment is another message.
  ASSERT_EQ(Signed(Event("evt_pf2", "invoice.payment_failed", "c-8")).status, 200);
  ASSERT_EQ(Told().size(), 2u);
  EXPECT_EQ(Told()[0].key(), "billing:evt_pf2");
  EXPECT_EQ(woken_, 2);
}

TEST_F(BillingAlertsTest, ARefusedPaymentFailedWritesNothing) {
  uint64_t before = journal_->LatestPosition();
  std::string no_created = R"({"id":"evt_1","type":"invoice.payment_failed","customerId":"c-9"})";
  std::string unknown_field = Event("evt_1", "invoice.payment_failed", "c-9");
  unknown_field.insert(unknown_field.size() - 1, R"(,"amount":1)");
  for (const std::string& body :
       {Event("evt_1", "invoice.payment_failed", "c 9"), no_created, unknown_field}) {
    Response r = Signed(body);
    EXPECT_EQ(r.status, 400) << body << ": " << r.body;
  }
  EXPECT_EQ(journal_->LatestPosition(), before) << "a refused webhook changed the journal";
  EXPECT_TRUE(Told().empty());
  EXPECT_EQ(woken_, 0);
  EXPECT_TRUE(bursts_.empty()) << "a signed request is no bad signature";
}

TEST_F(BillingAlertsTest, BadSignaturesWriteNothingAndABurstIsToldOnce) {
  uint64_t before = journal_->LatestPosition();
  EXPECT_EQ(Signed(kPaymentFailed, "not-the-secret-0123456789abcdef").status, 401);
  EXPECT_EQ(Signed(kPaymentFailed, "", -400).status, 401);  // stale
  EXPECT_TRUE(bursts_.empty());
  EXPECT_EQ(Webhook(kPaymentFailed, "").status, 401);  // the third: a burst
  EXPECT_EQ(Webhook(kPaymentFailed, "t=1,v1=zz").status, 401);
  EXPECT_EQ(Webhook(kPaymentFailed, "t=1").status, 401);
  EXPECT_EQ(Signed(kPaymentFailed, "", 400).status, 401);  // from the future
  Request oversize;  // a body too large, refused on its headers
  oversize.method = "POST";
  oversize.path = oversize.target = "/api/billing/webhook";
  std::optional<Response> refused = api_->RefuseBeforeSize(oversize);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 401);
  EXPECT_EQ(bursts_, std::vector<int>{3});
  EXPECT_EQ(journal_->LatestPosition(), before) << "a refused request changed the journal";
  EXPECT_TRUE(Told().empty());
  EXPECT_EQ(woken_, 0);
}

}  // namespace
}  // namespace zlh::api
