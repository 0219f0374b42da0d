// Moving zlhd to a new machine (SPEC §11), with real processes: zlhd on a zlh-sim takes its
// scheduled backup at start; a backup taken while one provisioning is stuck on a slow agent and
// another waits in the queue survives the loss of the data directory: `zlh-journal restore` makes
// a new one, zlhd started from it keeps its tokens and finishes both workflows, and `zlh-journal
// verify` finds the journal clean. A restore into a directory that is not empty, or from a backup
// that is damaged, is refused (exit 1) and changes nothing.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "tests/eventually.h"
#include "tests/zlhd_fleet.h"

namespace zlh {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

// Short timings; the agent may take its time (a slow install holds its step); one provisioning at
// a time; the daily backup at 00:00, long past when any test starts, so it is taken at start.
constexpr char kConfig[] = R"({
  "timing": {"readinessProbeInterval": "50ms", "leaseHeartbeatInterval": "100ms",
             "leasePollInterval": "2s"},
  "proxmox": {"taskPollInterval": "10ms"},
  "agent": {"requestTimeout": "10m"},
  "queues": {"provision": 1},
  "controller": {"digestAt": "off"},
  "backup": {"at": "00:00", "keep": 3}
})";

struct Ran {
  int code = -1;
  std::string out, err;
};

// zlh-journal with `args` (no spaces in them), its exit code and output.
Ran Journal(const TempDir& tmp, const std::string& args) {
  std::string out = tmp.Sub("journal.out"), err = tmp.Sub("journal.err");
  int rc = std::system((std::string(ZLH_JOURNAL) + " " + args + " >" + out + " 2>" + err).c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ReadFile(out), ReadFile(err)};
}

// The names in `dir`, sorted.
std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

class RestoreTest : public ::testing::Test {
 protected:
  std::string Created(const std::string& customer, const std::string& nonce,
                      const std::string& name) {
    Fetched f = z_.Create(customer, nonce, name);
    EXPECT_EQ(f.status, 202) << f.body;
    return std::string(ZlhdOnSim::Body(f)["workflowId"].as_string());
  }
  json::object Workflow(const std::string& id) {
    return ZlhdOnSim::Body(z_.Api("GET", "/api/workflows/" + id, "", true));
  }
  // The scheduled backup taken at start, once it is complete: its path.
  std::string ScheduledBackup() {
    std::string found;
    EXPECT_TRUE(Eventually([&] {
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(z_.data() + "/backups", ec)) {
        if (ReadFile(e.path().string() + "/zlh-backup.json").find("\"complete\":true") !=
            std::string::npos) {
          found = e.path().string();
        }
      }
      return !found.empty();
    })) << ReadFile(z_.log());
    return found;
  }

  TempDir tmp_;
  ZlhdOnSim z_{tmp_, kConfig};
};

TEST_F(RestoreTest, BackupLoseTheDataRestoreAndTheUnfinishedWorkflowsFinish) {
  ASSERT_TRUE(z_.Start());
  // The daily backup, verified, with the tokens file.
  std::string scheduled = ScheduledBackup();
  EXPECT_NE(ReadFile(scheduled + "/zlh-backup.json").find("\"origin\":\"scheduled\""),
            std::string::npos);
  EXPECT_NE(ReadFile(scheduled + "/zlh-backup.json").find("\"verified\":true"), std::string::npos);
  EXPECT_EQ(ReadFile(scheduled + "/tokens"), ReadFile(z_.data() + "/tokens"));
  EXPECT_EQ(Journal(tmp_, "--data " + scheduled + " verify").code, 0);

  std::string done = Created("c-1", "n1", "alpha");
  ASSERT_EQ(z_.AwaitWorkflow(done), "completed");
  // A slow agent: the next install is answered after ten minutes. A provisioning stuck in it, and
  // one queued behind (provision: one at a time).
  ASSERT_EQ(z_.SimPost(
                "/sim/faults",
                R"({"call": "agent.install", "mode": "latency", "count": 1, "latencyMs": 600000})"),
            200);
  std::string stuck = Created("c-1", "n2", "beta");
  std::string queued = Created("c-2", "n3", "gamma");
  // Stuck once zlh-sim has its install call (the second: alpha's was the first), which it holds.
  auto installs = [&] {
    json::object state = z_.SimState();
    size_t n = 0;
    for (const auto& m : state["mutations"].as_array()) n += m.at("call") == "agent.install";
    return n;
  };
  ASSERT_TRUE(Eventually([&] { return installs() == 2; })) << json::serialize(Workflow(stuck));
  ASSERT_EQ(Workflow(stuck)["status"], "running");
  ASSERT_TRUE(Workflow(stuck)["result"].is_null());
  ASSERT_EQ(Workflow(queued)["status"], "queued");
  Fetched b = z_.Api("POST", "/api/admin/backup", R"({"dir": "moving"})", true);
  ASSERT_EQ(b.status, 200) << b.body;
  std::string backup(ZlhdOnSim::Body(b)["path"].as_string());

  // The machine is lost: zlhd dies and its data directory with it. The backup was kept elsewhere.
  fs::rename(backup, tmp_.Sub("moving"));
  backup = tmp_.Sub("moving");
  std::string tokens = ReadFile(z_.data() + "/tokens");
  std::string portal = z_.portal_token();
  z_.Kill();
  fs::remove_all(z_.data());

  Ran restored = Journal(tmp_, "--data " + z_.data() + " restore " + backup);
  ASSERT_EQ(restored.code, 0) << restored.out << restored.err;
  EXPECT_NE(restored.out.find("verified " + backup), std::string::npos) << restored.out;
  EXPECT_NE(restored.out.find("restored into " + z_.data() + ": the journal ("), std::string::npos)
      << restored.out;
  EXPECT_NE(restored.out.find("and the tokens file (mode 0600)"), std::string::npos)
      << restored.out;
  EXPECT_EQ(ReadFile(z_.data() + "/tokens"), tokens);
  EXPECT_EQ(fs::status(z_.data() + "/tokens").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  // zlhd starts from it with the same tokens and finishes what was unfinished.
  ASSERT_TRUE(z_.Start());
  EXPECT_EQ(z_.portal_token(), portal);
  EXPECT_EQ(z_.AwaitWorkflow(stuck, 120s), "completed");
  EXPECT_EQ(z_.AwaitWorkflow(queued, 120s), "completed");
  EXPECT_EQ(Workflow(done)["status"], "completed");
  std::string servers = z_.Api("GET", "/api/servers?customerId=c-1").body +
                        z_.Api("GET", "/api/servers?customerId=c-2").body;
  for (const char* name : {"alpha", "beta", "gamma"}) {
    EXPECT_NE(servers.find(std::string("\"") + name + "\""), std::string::npos)
        << name << ": " << servers;
  }
  ASSERT_EQ(z_.Stop(), 0);
  Ran verified = Journal(tmp_, "--data " + z_.data() + " verify");
  EXPECT_EQ(verified.code, 0) << verified.out << verified.err;
}

TEST_F(RestoreTest, ARestoreIntoAUsedDirectoryOrFromADamagedBackupIsRefused) {
  ASSERT_TRUE(z_.Start());
  ASSERT_EQ(z_.AwaitWorkflow(Created("c-1", "n1", "alpha")), "completed");
  ASSERT_EQ(z_.Stop(), 0);
  Ran taken = Journal(tmp_, "--data " + z_.data() + " backup " + tmp_.Sub("b"));
  ASSERT_EQ(taken.code, 0) << taken.err;

  // Into the data directory of a zlhd (not empty): refused, nothing changed.
  std::vector<std::string> before = Names(z_.data());
  std::string tokens = ReadFile(z_.data() + "/tokens");
  Ran used = Journal(tmp_, "--data " + z_.data() + " restore " + tmp_.Sub("b"));
  EXPECT_EQ(used.code, 1) << used.out << used.err;
  EXPECT_NE(used.err.find("is not empty"), std::string::npos) << used.err;
  EXPECT_EQ(Names(z_.data()), before);
  EXPECT_EQ(ReadFile(z_.data() + "/tokens"), tokens);

  // From a backup whose table file has flipped bytes: refused, nothing made.
  fs::copy(tmp_.Sub("b"), tmp_.Sub("damaged"), fs::copy_options::recursive);
  std::string table;
  for (const auto& e : fs::directory_iterator(tmp_.Sub("damaged/journal"))) {
    if (e.path().extension() == ".sst") table = e.path().string();
  }
  ASSERT_FALSE(table.empty());
  {
    std::fstream f(table, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(64);
    char bytes[16];
    f.read(bytes, sizeof bytes);
    for (char& c : bytes) c = static_cast<char>(~c);
    f.seekp(64);
    f.write(bytes, sizeof bytes);
  }
  Ran damaged = Journal(tmp_, "--data " + tmp_.Sub("new-data") + " restore " + tmp_.Sub("damaged"));
  EXPECT_EQ(damaged.code, 1) << damaged.out << damaged.err;
  EXPECT_NE(damaged.err.find("restore refused"), std::string::npos) << damaged.err;
  EXPECT_FALSE(fs::exists(tmp_.Sub("new-data")));

  // Not a backup at all.
  Ran nothing = Journal(tmp_, "--data " + tmp_.Sub("new-data") + " restore " + tmp_.Sub("nowhere"));
  EXPECT_EQ(nothing.code, 2) << nothing.out << nothing.err;
  EXPECT_FALSE(fs::exists(tmp_.Sub("new-data")));

  // The intact backup restores there.
  Ran good = Journal(tmp_, "--data " + tmp_.Sub("new-data") + " restore " + tmp_.Sub("b"));
  EXPECT_EQ(good.code, 0) << good.out << good.err;
  EXPECT_EQ(Journal(tmp_, "--data " + tmp_.Sub("new-data") + " verify").code, 0);
}

}  // namespace
}  // namespace zlh
