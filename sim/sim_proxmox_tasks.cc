// The simulated Proxmox's tasks and guest locks. A task finishes at once: its status is stopped,
// with exitstatus "OK", or the one it failed with — a task made to fail by POST /sim/faults
// {"mode": "taskFailed"}, or one that met a lock. A locked guest refuses a call where Proxmox
// checks the lock (pve-container's API2/LXC.pm and LXC/Status.pm): before the task, as an HTTP
// 500 "CT is locked (backup)", or inside it, as a task that fails with that exit status; a held
// config file lock reads "can't lock file '/run/lock/lxc/pve-config-101.lock' - got timeout".
#include <cstdio>

#include "sim/sim_state.h"

namespace zlh::sim {
namespace {

// Where a call meets a lock: not at all, before its task starts, or inside its task.
enum class Where { kNowhere, kRequest, kTask };

struct TaskCall {
  const char* call;
  const char* kind;   // the task's type in its UPID; nullptr: no task (the config PUT)
  Where config_lock;  // a config lock (`lock: backup`): check_lock
  Where file_lock;    // the config file's flock held elsewhere: lock_config times out
};

// Clone locks its source (set_lock) before forking; start and stop check inside the worker; reboot
// only takes the file lock; destroy and resize check early, then lock in the worker. vzdump and
// restore meet locks in their own handlers (sim_proxmox.cc), not here.
constexpr TaskCall kTaskCalls[] = {
    {"proxmox.create", "vzclone", Where::kRequest, Where::kRequest},
    {"proxmox.start", "vzstart", Where::kTask, Where::kTask},
    {"proxmox.stop", "vzstop", Where::kTask, Where::kTask},
    {"proxmox.reboot", "vzreboot", Where::kNowhere, Where::kTask},
    {"proxmox.destroy", "vzdestroy", Where::kRequest, Where::kTask},
    {"proxmox.resize", "resize", Where::kRequest, Where::kTask},
    {"proxmox.configure", nullptr, Where::kRequest, Where::kRequest},
    {"backup.run", "vzdump", Where::kNowhere, Where::kNowhere},
    {"backup.restore", "vzrestore", Where::kNowhere, Where::kNowhere},
};

const TaskCall* Find(const std::string& call) {
  for (const TaskCall& t : kTaskCalls) {
    if (call == t.call) return &t;
  }
  return nullptr;
}

std::string FileLockTimeout(int64_t vmid) {
  return "can't lock file '/run/lock/lxc/pve-config-" + std::to_string(vmid) +
         ".lock' - got timeout";
}

// What a failed task of `call` ends with when the fault names nothing: what Proxmox logs last.
std::string DefaultExitstatus(const std::string& call, int64_t vmid) {
  if (call == "proxmox.start" || call == "proxmox.reboot") {
    return "startup for container '" + std::to_string(vmid) + "' failed";
  }
  if (call == "proxmox.create") {
    return "clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got "
           "timeout";
  }
  if (call == "backup.run") return "job errors";
  return FileLockTimeout(vmid);
}

// UPID:pve1:00000001:00000000:6753A1B2:vzstart:101:root@pam: → its fields.
std::vector<std::string> UpidFields(const std::string& upid) {
  std::vector<std::string> f;
  size_t at = 0;
  for (size_t colon; (colon = upid.find(':', at)) != std::string::npos; at = colon + 1) {
    f.push_back(upid.substr(at, colon - at));
  }
  return f;
}

}  // namespace

bool IsTaskCall(const std::string& call) {
  const TaskCall* t = Find(call);
  return t && t->kind;
}

HttpReply World::State::FailedTask(const std::string& node, const std::string& call, int64_t vmid,
                                   std::string exitstatus, int64_t delay_ms) {
  const TaskCall* t = Find(call);
  std::string upid = NewTask(node, t && t->kind ? t->kind : "unknown", vmid);
  failed_tasks[upid] = exitstatus.empty() ? DefaultExitstatus(call, vmid) : std::move(exitstatus);
  return Pve(json::value(upid), delay_ms);
}

std::optional<HttpReply> World::State::Locked(const std::string& call, int64_t vmid,
                                              const std::string& node, int64_t delay_ms,
                                              bool* changed) {
  auto lock = locks.find(vmid);
  const TaskCall* t = Find(call);
  if (lock == locks.end() || !t) return std::nullopt;
  bool file = lock->second.what == "file";
  Where where = file ? t->file_lock : t->config_lock;
  if (where == Where::kNowhere) return std::nullopt;
  std::string message = file ? FileLockTimeout(vmid) : "CT is locked (" + lock->second.what + ")";
  if (lock->second.count > 0 && --lock->second.count == 0) locks.erase(lock);
  *changed = true;
  if (where == Where::kRequest) return PveError(500, message, delay_ms);
  return FailedTask(node, call, vmid, message, delay_ms);
}

HttpReply World::State::TaskStatus(const std::string& node, const std::string& upid) const {
  std::vector<std::string> f = UpidFields(upid);
  if (f.size() < 8 || f[0] != "UPID") {
    return PveBadParams(json::object{{"upid", "unable to parse worker upid"}});
  }
  unsigned long long number = 0, start = 0;
  if (f[1] != node || std::sscanf(f[2].c_str(), "%llx", &number) != 1 || number == 0 ||
      number > tasks || std::sscanf(f[4].c_str(), "%llx", &start) != 1) {
    return PveBadParams(json::object{{"upid", "no such task"}});
  }
  auto failed = failed_tasks.find(upid);
  size_t bang = f[7].find('!');
  json::object status{{"upid", upid},
                      {"node", node},
                      {"pid", static_cast<int64_t>(number)},
                      {"pstart", 0},
                      {"starttime", static_cast<int64_t>(start)},
                      {"type", f[5]},
                      {"id", f[6]},
                      {"user", f[7].substr(0, bang)},
                      {"status", "stopped"},
                      {"exitstatus", failed == failed_tasks.end() ? "OK" : failed->second}};
  if (bang != std::string::npos) status["tokenid"] = f[7].substr(bang + 1);
  return Pve(std::move(status));
}

}  // namespace zlh::sim
