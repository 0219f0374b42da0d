#include "activities/proxmox.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <chrono>

namespace zlh::activities {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

std::string FormEscape(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

ProxmoxHypervisor::ProxmoxHypervisor(HttpClient& http, ProxmoxOptions options)
    : http_(http), options_(std::move(options)) {}

Task<Result<std::string>> ProxmoxHypervisor::Call(std::string method, std::string path,
                                                  std::string form, const CallContext* ctx) {
  HttpRequest req;
  req.method = method;
  req.url = options_.base_url + "/api2/json" + path;
  req.headers.emplace_back("Authorization", "PVEAPIToken=" + options_.token);
  if (!form.empty()) req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  if (ctx && ctx->fencing_token > 0) {
    req.headers.emplace_back("X-ZLH-Fencing-Token", std::to_string(ctx->fencing_token));
  }
  req.body = std::move(form);
  req.timeout = options_.request_timeout;
  req.verify_tls = options_.verify_tls;
  req.ca_file = options_.ca_file;
  std::string what = "proxmox " + method + " " + path;
  auto res = co_await http_.Send(std::move(req));
  if (!res.ok()) co_return res.status();
  ZLH_CO_RETURN_IF_ERROR(StatusOfHttp(res->status, what, res->body));
  boost::system::error_code ec;
  json::value v = json::parse(res->body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("data")) {
    co_return Unavailable(what + ": the answer is not Proxmox's {\"data\": ...}");
  }
  co_return json::serialize(v.as_object().at("data"));
}

Task<Status> ProxmoxHypervisor::RunTask(std::string method, std::string path, std::string form,
                                        const CallContext& ctx, std::string node) {
  auto data = co_await Call(method, path, std::move(form), &ctx);
  if (!data.ok()) co_return data.status();
  json::value upid = json::parse(*data);
  if (!upid.is_string()) co_return Unavailable("proxmox " + path + ": no task id in the answer");
  std::string task_path = "/nodes/" + node + "/tasks/" + std::string(upid.as_string()) + "/status";
  auto deadline = std::chrono::steady_clock::now() + options_.task_timeout;
  asio::steady_timer poll(co_await asio::this_coro::executor);
  for (;;) {
    auto status = co_await Call("GET", task_path, "", nullptr);
    if (!status.ok()) co_return status.status();
    json::value t = json::parse(*status);
    if (t.is_object() && t.as_object().contains("status") &&
        t.as_object().at("status") == "stopped") {
      const json::object& o = t.as_object();
      std::string exit = o.contains("exitstatus") && o.at("exitstatus").is_string()
                             ? std::string(o.at("exitstatus").as_string())
                             : "";
      if (exit == "OK") co_return Status::Ok();
      co_return Unavailable("proxmox task " + std::string(upid.as_string()) + " failed: " + exit);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      co_return Status(Code::kDeadlineExceeded, "proxmox task " + std::string(upid.as_string()) +
                                                    " still running after " +
                                                    FormatDuration(options_.task_timeout));
    }
    poll.expires_after(options_.task_poll_interval);
    co_await poll.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

Task<Result<std::vector<HostNode>>> ProxmoxHypervisor::Nodes() {
  auto data = co_await Call("GET", "/nodes", "", nullptr);
  if (!data.ok()) co_return data.status();
  std::vector<HostNode> out;
  try {
    json::value nodes = json::parse(*data);
    for (const auto& n : nodes.as_array()) {
      const json::object& o = n.as_object();
      out.push_back(HostNode{std::string(o.at("node").as_string()), o.at("cpu").to_number<double>(),
                             o.at("mem").to_number<int64_t>(), o.at("maxmem").to_number<int64_t>()});
    }
  } catch (const std::exception& e) {
    co_return Unavailable(std::string("proxmox /nodes: unexpected answer: ") + e.what());
  }
  co_return out;
}

Task<Result<std::vector<Guest>>> ProxmoxHypervisor::Guests() {
  auto data = co_await Call("GET", "/cluster/resources?type=vm", "", nullptr);
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
      out.push_back(std::move(guest));
    }
  } catch (const std::exception& e) {
    co_return Unavailable(std::string("proxmox /cluster/resources: unexpected answer: ") + e.what());
  }
  co_return out;
}

Task<Status> ProxmoxHypervisor::Clone(const CallContext& ctx, std::string template_node,
                                      int64_t template_vmid, std::string node, int64_t vmid,
                                      std::string hostname) {
  // Idempotent by VMID: ours already there (an earlier attempt got through) is success.
  auto guests = co_await Guests();
  if (!guests.ok()) co_return guests.status();
  for (const Guest& g : *guests) {
    if (g.vmid != vmid) continue;
    if (g.name == hostname) co_return Status::Ok();
    co_return FailedPrecondition("VMID " + std::to_string(vmid) + " is used by '" + g.name + "'");
  }
  std::string form = "newid=" + std::to_string(vmid) + "&hostname=" + FormEscape(hostname) +
                     "&full=1&target=" + FormEscape(node);
  co_return co_await RunTask("POST",
                             "/nodes/" + template_node + "/lxc/" + std::to_string(template_vmid) +
                                 "/clone",
                             form, ctx, template_node);
}

Task<Status> ProxmoxHypervisor::Power(const CallContext& ctx, std::string node, int64_t vmid,
                                      const char* action) {
  co_return co_await RunTask("POST",
                             "/nodes/" + node + "/lxc/" + std::to_string(vmid) + "/status/" + action,
                             "", ctx, node);
}

Task<Status> ProxmoxHypervisor::Start(const CallContext& ctx, std::string node, int64_t vmid) {
  co_return co_await Power(ctx, std::move(node), vmid, "start");
}

Task<Status> ProxmoxHypervisor::Stop(const CallContext& ctx, std::string node, int64_t vmid) {
  co_return co_await Power(ctx, std::move(node), vmid, "stop");
}

Task<Status> ProxmoxHypervisor::Reboot(const CallContext& ctx, std::string node, int64_t vmid) {
  co_return co_await Power(ctx, std::move(node), vmid, "reboot");
}

Task<Result<std::string>> ProxmoxHypervisor::PowerState(std::string node, int64_t vmid) {
  auto guests = co_await Guests();
  if (!guests.ok()) co_return guests.status();
  bool found = false;
  for (const Guest& g : *guests) found |= g.vmid == vmid && g.node == node;
  if (!found) co_return NotFound("no container " + std::to_string(vmid) + " on " + node);
  auto data = co_await Call("GET", "/nodes/" + node + "/lxc/" + std::to_string(vmid) + "/status/current",
                            "", nullptr);
  if (!data.ok()) co_return data.status();
  json::value v = json::parse(*data);
  if (!v.is_object() || !v.as_object().contains("status")) {
    co_return Unavailable("proxmox status of " + std::to_string(vmid) + ": unexpected answer");
  }
  co_return std::string(v.as_object().at("status").as_string());
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
  if (ours->name != hostname) {
    co_return FailedPrecondition("refusing to destroy VMID " + std::to_string(vmid) +
                                 ": it is '" + ours->name + "', not '" + hostname + "'");
  }
  std::string on = ours->node;
  co_return co_await RunTask("DELETE", "/nodes/" + on + "/lxc/" + std::to_string(vmid) + "?purge=1",
                             "", ctx, on);
}

}  // namespace zlh::activities
