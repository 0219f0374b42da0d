// ProxmoxHypervisor (proxmox.h): the Hypervisor calls over Proxmox VE's API (proxmox_api.h).
// Thread-safety: as its header says (shareable; no mutable state).
#include "activities/proxmox.h"

#include <boost/json.hpp>

namespace zlh::activities {

namespace json = boost::json;

ProxmoxHypervisor::ProxmoxHypervisor(HttpClient& http, ProxmoxOptions options)
    : api_(http, options), container_storage_(options.container_storage) {}

namespace {

std::string ContainerPath(const std::string& node, int64_t vmid) {
  return "/nodes/" + node + "/lxc/" + std::to_string(vmid);
}

// Whether `s` is Proxmox refusing what is already so ("CT 101 already running" for a start, "CT
// 101 not running" for a stop, "disk is already at specified size" for a resize): a 500, by its
// message.
bool AlreadySo(const Status& s, const std::string& says) {
  return s.code() == Code::kUnavailable && s.message().find(says) != std::string::npos;
}

std::string Field(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

}  // namespace

Task<Result<std::vector<HostNode>>> ProxmoxHypervisor::Nodes() {
  auto data = co_await api_.Call("GET", "/nodes", "", nullptr);
  if (!data.ok()) co_return data.status();
  std::vector<HostNode> out;
  try {
    json::value nodes = json::parse(*data);
    for (const auto& n : nodes.as_array()) {
      const json::object& o = n.as_object();
      // An offline node answers without its load, and so does a node the token may not audit
      // (Sys.Audit): 0 of 0 memory.
      auto number = [&o](const char* key) {
        const json::value* v = o.if_contains(key);
        return v && v->is_number() ? v->to_number<double>() : 0.0;
      };
      const json::value* status = o.if_contains("status");
      out.push_back(HostNode{std::string(o.at("node").as_string()),
                             status && status->is_string() ? std::string(status->as_string())
                                                           : std::string("online"),
                             number("cpu"), static_cast<int64_t>(number("mem")),
                             static_cast<int64_t>(number("maxmem"))});
    }
  } catch (const std::exception& e) {
    co_return Unavailable(std::string("proxmox /nodes: unexpected answer: ") + e.what());
  }
  co_return out;
}

Task<Result<std::vector<Guest>>> ProxmoxHypervisor::Guests() {
  auto data = co_await api_.Call("GET", "/cluster/resources?type=vm", "", nullptr);
  if (!data.ok()) co_return data.status();
  std::vector<Guest> out;
  try {
    json::value guests = json::parse(*data);
    for (const auto& g : guests.as_array()) {
      const json::object& o = g.as_object();
      Guest guest;
      guest.vmid = o.at("vmid").to_number<int64_t>();
      guest.node = std::string(o.at("node").as_string());
      guest.status = o.contains("status") ? std::string(o.at("status").as_string()) : "";
      guest.name = o.contains("name") ? std::string(o.at("name").as_string()) : "";
      guest.type = o.contains("type") ? std::string(o.at("type").as_string()) : "";
      guest.is_template = o.contains("template") && o.at("template").to_number<int>() == 1;
      out.push_back(std::move(guest));
    }
  } catch (const std::exception& e) {
    co_return Unavailable(std::string("proxmox /cluster/resources: unexpected answer: ") + e.what());
  }
  // A guest Proxmox's status cache has not caught up with (just cloned or restored) is listed
  // without its name, status "unknown": its config tells the name (the hostname).
  for (Guest& g : out) {
    if (!g.name.empty() || g.is_template) continue;
    auto config = co_await Config(g.node, g.vmid);
    if (!config.ok()) continue;  // still nameless: callers take it as not known yet
    if (auto hostname = config->find("hostname"); hostname != config->end()) g.name = hostname->second;
  }
  co_return out;
}

namespace {

// A guest at our VMID still nameless after Guests(): whose it is is not known yet.
Status NotKnownYet(int64_t vmid) {
  return Unavailable("VMID " + std::to_string(vmid) +
                     " is listed without a name (Proxmox's status cache is behind): not known yet");
}

}  // namespace

Task<Result<std::string>> ProxmoxHypervisor::Clone(const CallContext& ctx,
                                                   std::string template_node,
                                                   int64_t template_vmid, std::string node,
                                                   int64_t vmid, std::string hostname) {
  // Idempotent by VMID: ours already there (an earlier attempt got through) is success.
  auto guests = co_await Guests();
  if (!guests.ok()) co_return guests.status();
  for (const Guest& g : *guests) {
    if (g.vmid != vmid) continue;
    if (g.name == hostname) co_return g.node;
    if (g.name.empty()) co_return NotKnownYet(vmid);
    co_return FailedPrecondition("VMID " + std::to_string(vmid) + " is used by '" + g.name + "'");
  }
  std::string form = "newid=" + std::to_string(vmid) + "&hostname=" + FormEscape(hostname) +
                     "&full=1&target=" + FormEscape(node);
  if (!container_storage_.empty()) form += "&storage=" + FormEscape(container_storage_);
  ZLH_CO_RETURN_IF_ERROR(co_await api_.RunTask(
      "POST", "/nodes/" + template_node + "/lxc/" + std::to_string(template_vmid) + "/clone", form,
      ctx, template_node));
  co_return node;
}

Task<Result<GuestConfig>> ProxmoxHypervisor::Config(std::string node, int64_t vmid) {
  auto data = co_await api_.Call("GET", ContainerPath(node, vmid) + "/config", "", nullptr);
  if (!data.ok()) co_return data.status();
  boost::system::error_code ec;
  json::value v = json::parse(*data, ec);
  if (ec || !v.is_object()) {
    co_return Unavailable("proxmox config of " + std::to_string(vmid) + ": unexpected answer");
  }
  GuestConfig out;
  for (const auto& [key, value] : v.as_object()) {
    out[std::string(key)] =
        value.is_string() ? std::string(value.as_string()) : json::serialize(value);
  }
  co_return out;
}

Task<Status> ProxmoxHypervisor::SetConfig(const CallContext& ctx, std::string node, int64_t vmid,
                                          GuestConfig changes) {
  std::string form;
  for (const auto& [key, value] : changes) {
    form += (form.empty() ? "" : "&") + FormEscape(key) + "=" + FormEscape(value);
  }
  if (form.empty()) co_return Status::Ok();
  // Synchronous for containers: the answer is {"data": null}, no task.
  auto data = co_await api_.Call("PUT", ContainerPath(node, vmid) + "/config", form, &ctx);
  co_return data.status();
}

Task<Status> ProxmoxHypervisor::ResizeRootfs(const CallContext& ctx, std::string node, int64_t vmid,
                                             uint32_t size_gb) {
  Status s = co_await api_.RunTask("PUT", ContainerPath(node, vmid) + "/resize",
                                   "disk=rootfs&size=" + std::to_string(size_gb) + "G", ctx, node);
  co_return AlreadySo(s, "disk is already at specified size") ? Status::Ok() : s;
}

Task<Status> ProxmoxHypervisor::Power(const CallContext& ctx, std::string node, int64_t vmid,
                                      const char* action) {
  co_return co_await api_.RunTask(
      "POST", "/nodes/" + node + "/lxc/" + std::to_string(vmid) + "/status/" + action, "", ctx,
      node);
}

Task<Status> ProxmoxHypervisor::Start(const CallContext& ctx, std::string node, int64_t vmid) {
  Status s = co_await Power(ctx, std::move(node), vmid, "start");
  co_return AlreadySo(s, "CT " + std::to_string(vmid) + " already running") ? Status::Ok() : s;
}

Task<Status> ProxmoxHypervisor::Stop(const CallContext& ctx, std::string node, int64_t vmid) {
  Status s = co_await Power(ctx, std::move(node), vmid, "stop");
  co_return AlreadySo(s, "CT " + std::to_string(vmid) + " not running") ? Status::Ok() : s;
}

Task<Status> ProxmoxHypervisor::Reboot(const CallContext& ctx, std::string node, int64_t vmid) {
  co_return co_await Power(ctx, std::move(node), vmid, "reboot");
}

Task<Result<std::vector<GuestInterface>>> ProxmoxHypervisor::Interfaces(std::string node,
                                                                        int64_t vmid) {
  auto data = co_await api_.Call("GET", ContainerPath(node, vmid) + "/interfaces", "", nullptr);
  if (!data.ok()) co_return data.status();
  std::vector<GuestInterface> out;
  json::value v = json::parse(*data);
  if (v.is_null()) co_return out;  // stopped: no network namespace to look into
  if (!v.is_array()) {
    co_return Unavailable("proxmox interfaces of " + std::to_string(vmid) + ": unexpected answer");
  }
  for (const auto& item : v.as_array()) {
    if (!item.is_object()) continue;
    const json::object& o = item.as_object();
    out.push_back(
        GuestInterface{Field(o, "name"), Field(o, "hwaddr"), Field(o, "inet"), Field(o, "inet6")});
  }
  co_return out;
}

Task<Result<std::string>> ProxmoxHypervisor::PowerState(std::string node, int64_t vmid) {
  auto guests = co_await Guests();
  if (!guests.ok()) co_return guests.status();
  bool found = false;
  for (const Guest& g : *guests) found |= g.vmid == vmid && g.node == node;
  if (!found) co_return NotFound("no container " + std::to_string(vmid) + " on " + node);
  co_return co_await api_.CurrentStatus(node, vmid);
}

Task<Status> ProxmoxHypervisor::Destroy(const CallContext& ctx, std::string node, int64_t vmid,
                                        std::string hostname) {
  // Guarded: only a container with our VMID and our hostname; an absent one is success.
  auto guests = co_await Guests();
  if (!guests.ok()) co_return guests.status();
  const Guest* ours = nullptr;
  for (const Guest& g : *guests) {
    if (g.vmid == vmid) ours = &g;
  }
  if (!ours) co_return Status::Ok();
  if (ours->name.empty()) co_return NotKnownYet(vmid);
  if (ours->name != hostname) {
    co_return FailedPrecondition("refusing to destroy VMID " + std::to_string(vmid) +
                                 ": it is '" + ours->name + "', not '" + hostname + "'");
  }
  std::string on = ours->node;
  co_return co_await api_.RunTask(
      "DELETE", "/nodes/" + on + "/lxc/" + std::to_string(vmid) + "?purge=1", "", ctx, on);
}

}  // namespace zlh::activities
