// VerifyDomain on journals whose domain tables are sound, then damaged in each way it checks.
#include "fleet/verify.h"

#include <gtest/gtest.h>

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
