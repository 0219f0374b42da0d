// VerifyDomain on journals whose domain tables are sound, then damaged in each way it checks.
#include "fleet/verify.h"

#include <gtest/gtest.h>

#include "base/ipv4.h"
#include "base/temp_dir.h"
#include "fleet/tables.h"
#include "journal/format.h"

namespace zlh::fleet {
namespace {

class VerifyDomainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto j = journal::Journal::Open(dir_.path());
    ASSERT_TRUE(j.ok());
    journal_ = std::move(*j);
    // Two live servers with their VMIDs, a failed one without.
    Write([](journal::Txn& t) {
      ZLH_RETURN_IF_ERROR(PutServer(t, Server("s1", "alpha", 101, proto::SERVER_RUNNING)));
      ZLH_RETURN_IF_ERROR(PutServer(t, Server("s2", "bravo", 102, proto::SERVER_STOPPED)));
      ZLH_RETURN_IF_ERROR(PutServer(t, Server("s3", "charlie", 0, proto::SERVER_FAILED)));
      ZLH_RETURN_IF_ERROR(AllocateVmid(t, 101, 101, {}, "s1").status());
      return AllocateVmid(t, 102, 102, {}, "s2").status();
    });
  }

  static proto::Server Server(std::string id, std::string name, int64_t vmid,
                              proto::ServerStatus status) {
    proto::Server s;
    s.set_server_id(std::move(id));
    s.set_customer_id("c-1");
    s.set_name(std::move(name));
    s.set_vmid(vmid);
    s.set_status(status);
    return s;
  }
  void Write(journal::TxnFn fn) { ASSERT_TRUE(journal_->AppendSync({}, std::move(fn)).ok()); }
  // The violations' text, one per line.
  std::string Violations() {
    auto v = VerifyDomain(*journal_);
    EXPECT_TRUE(v.ok());
    std::string out;
    for (const auto& x : *v) out += x.subject + ": " + x.what + "\n";
    return out;
  }

  TempDir dir_;
  std::unique_ptr<journal::Journal> journal_;
};

TEST_F(VerifyDomainTest, SoundTablesPass) { EXPECT_EQ(Violations(), ""); }

// The allocator: lowest free first, skipping what guests use, a freed address reusable at once.
TEST_F(VerifyDomainTest, AddressesAreTakenLowestFreeFirst) {
  const uint32_t first = *ParseIpv4("10.20.1.10"), last = *ParseIpv4("10.20.1.13");
  std::vector<std::string> got;
  auto take = [&](const std::string& server, std::set<uint32_t> in_use) {
    Write([&](journal::Txn& t) -> Status {
      auto a = AllocateAddress(t, first, last, in_use, server);
      if (!a.ok()) return a.status();
      got.push_back(a->has_value() ? FormatIpv4(**a) : "none");
      return Status::Ok();
    });
  };
  take("s1", {});
  take("s2", {*ParseIpv4("10.20.1.11")});  // a guest the hypervisor reports uses .11
  take("s4", {});
  take("s5", {*ParseIpv4("10.20.1.11")});
  EXPECT_EQ(got,
            (std::vector<std::string>{"10.20.1.10", "10.20.1.12", "10.20.1.11", "10.20.1.13"}));
  take("s6", {});
  EXPECT_EQ(got.back(), "none");  // exhausted
}

TEST_F(VerifyDomainTest, ReleaseFreesVmidAndAddressForReuseAtOnce) {
  const uint32_t a = *ParseIpv4("10.20.1.10");
  Write([&](journal::Txn& t) -> Status {
    auto got = AllocateAddress(t, a, a, {}, "s1");
    if (!got.ok()) return got.status();
    auto server = GetServer(t, "s1");
    (*server)->set_address(FormatIpv4(a));
    return PutServer(t, **server);
  });
  EXPECT_EQ(Violations(), "");
  std::string freed;
  Write([&](journal::Txn& t) -> Status {
    auto r = ReleaseServer(t, "s1", proto::SERVER_FAILED);
    if (!r.ok()) return r.status();
    freed = *r;
    auto again = AllocateAddress(t, a, a, {}, "s2");  // the same write sees it free
    if (!again.ok()) return again.status();
    EXPECT_TRUE(again->has_value());
    auto server = GetServer(t, "s2");
    (*server)->set_address(FormatIpv4(a));
    return PutServer(t, **server);
  });
  EXPECT_EQ(freed, "released 101, address 10.20.1.10");
  EXPECT_EQ(Violations(), "");
  auto s1 = ReadServer(*journal_, "s1");
  EXPECT_EQ((*s1)->address(), "");
  EXPECT_EQ((*s1)->vmid(), 0);
}

TEST_F(VerifyDomainTest, AddressLeaksAndDoublesAreViolations) {
  Write([](journal::Txn& t) -> Status {
    // s3 (failed) still holds .10; s1 names .11 without holding it; s2 names it too.
    ZLH_RETURN_IF_ERROR(
        AllocateAddress(t, *ParseIpv4("10.20.1.10"), *ParseIpv4("10.20.1.10"), {}, "s3").status());
    for (const char* id : {"s1", "s2"}) {
      auto server = GetServer(t, id);
      (*server)->set_address("10.20.1.11");
      ZLH_RETURN_IF_ERROR(PutServer(t, **server));
    }
    return Status::Ok();
  });
  std::string v = Violations();
  EXPECT_NE(v.find("address 10.20.1.10: still allocated to s3, which is failed"), std::string::npos)
      << v;
  EXPECT_NE(v.find("address 10.20.1.11: named by two live servers, s1 and s2"), std::string::npos)
      << v;
  EXPECT_NE(v.find("server s1: names address 10.20.1.11 without holding it"), std::string::npos)
      << v;
}

TEST_F(VerifyDomainTest, AVmidOfAFailedServerIsALeak) {
  Write([](journal::Txn& t) {
    return PutServer(t, Server("s2", "bravo", 102, proto::SERVER_FAILED));
  });
  EXPECT_NE(Violations().find("vmid 102: still allocated to s2, which is failed"), std::string::npos)
      << Violations();
}

TEST_F(VerifyDomainTest, TwoServersNamingOneVmid) {
  Write([](journal::Txn& t) {
    return PutServer(t, Server("s2", "bravo", 101, proto::SERVER_RUNNING));
  });
  std::string v = Violations();
  EXPECT_NE(v.find("vmid 101: named by two live servers"), std::string::npos) << v;
  EXPECT_NE(v.find("vmid 102: allocated to s2, whose record names VMID 101"), std::string::npos) << v;
}

TEST_F(VerifyDomainTest, AVmidRowForNobodyAndAServerWithoutItsRow) {
  Write([](journal::Txn& t) {
    t.Delete(journal::Cf::kDomain, [] {
      std::string k;
      journal::PutU64(&k, 101);
      return journal::DomainKey('v', k);
    }());
    return AllocateVmid(t, 150, 150, {}, "ghost").status();
  });
  std::string v = Violations();
  EXPECT_NE(v.find("server s1: names VMID 101 without holding it"), std::string::npos) << v;
  EXPECT_NE(v.find("vmid 150: allocated to ghost, which does not exist"), std::string::npos) << v;
}

TEST_F(VerifyDomainTest, ANameIndexThatDisagrees) {
  Write([](journal::Txn& t) {
    t.Put(journal::Cf::kDomain, journal::DomainKey('n', "charlie"), "s3");
    t.Delete(journal::Cf::kDomain, journal::DomainKey('n', "alpha"));
    return Status::Ok();
  });
  std::string v = Violations();
  EXPECT_NE(v.find("name charlie: indexed to s3"), std::string::npos) << v;
  EXPECT_NE(v.find("server s1: live, but its name 'alpha' is not indexed"), std::string::npos) << v;
}

TEST_F(VerifyDomainTest, ALeaseHeldByAnEndedOrUnknownWorkflow) {
  proto::WorkflowSummary done;
  done.set_id("wf-done");
  done.set_status(proto::COMPLETED);
  journal::Batch batch;
  batch.PutSummary(done);
  ASSERT_TRUE(journal_->AppendSync(std::move(batch)).ok());
  Write([](journal::Txn& t) {
    proto::Lease a;
    a.set_server_id("s1");
    a.set_holder("wf-done");
    a.set_epoch(3);
    PutLease(t, a);
    proto::Lease b;
    b.set_server_id("s2");
    b.set_holder("wf-nobody");
    b.set_epoch(1);
    PutLease(t, b);
    return Status::Ok();
  });
  std::string v = Violations();
  EXPECT_NE(v.find("lease of s1: held by wf-done, which has ended"), std::string::npos) << v;
  EXPECT_NE(v.find("lease of s2: held by wf-nobody, which does not exist"), std::string::npos) << v;
}

}  // namespace
}  // namespace zlh::fleet
