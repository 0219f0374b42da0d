// ProxmoxApi (proxmox_api.h): Proxmox VE's envelope, auth and task polling.
// Thread-safety: as its header says (shareable; no mutable state).
#include "activities/proxmox_api.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <string_view>
#include <vector>

namespace zlh::activities {

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

namespace {

std::string Trimmed(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

// Proxmox's word on a failed call, classified per StatusOfHttp: the parameters it refused (400
// {"data": null, "errors": {param: message}}), else its message — the body's "message" (Proxmox VE
// 8.3 and later) or the status line's reason phrase (where earlier versions put it only).
Status ErrorOf(const HttpResponse& res, const std::string& what) {
  boost::system::error_code ec;
  json::value v = json::parse(res.body, ec);
  const json::object* o = !ec && v.is_object() ? &v.as_object() : nullptr;
  const json::value* errors = o ? o->if_contains("errors") : nullptr;
  const json::value* message = o ? o->if_contains("message") : nullptr;
  std::string detail;
  if (errors && errors->is_object() && !errors->as_object().empty()) {
    for (const auto& [param, problem] : errors->as_object()) {
      std::string text =
          problem.is_string() ? std::string(problem.as_string()) : json::serialize(problem);
      detail +=
          (detail.empty() ? "bad parameters: " : "; ") + std::string(param) + ": " + Trimmed(text);
    }
  } else if (message && message->is_string() && !Trimmed(message->as_string()).empty()) {
    detail = Trimmed(message->as_string());
  } else {
    detail = res.reason.empty() ? res.body : res.reason;
  }
  return StatusOfHttp(res.status, what, detail);
}

// "vzstart of 101 on pve1" for UPID:pve1:0001A2B3:00C4D5E6:6753A1B2:vzstart:101:zlh@pve!flow:
std::string TaskName(const std::string& upid) {
  std::vector<std::string> f;
  size_t at = 0;
  for (size_t colon; (colon = upid.find(':', at)) != std::string::npos; at = colon + 1) {
    f.push_back(upid.substr(at, colon - at));
  }
  if (f.size() < 7 || f[0] != "UPID") return upid;
  return f[5] + (f[6].empty() ? "" : " of " + f[6]) + " on " + f[1];
}

}  // namespace

ProxmoxApi::ProxmoxApi(HttpClient& http, ProxmoxOptions options)
    : http_(http), options_(std::move(options)) {}

Task<Result<std::string>> ProxmoxApi::Call(std::string method, std::string path, std::string form,
                                           const CallContext* ctx) {
  HttpRequest req;
  req.method = method;
  req.url = options_.base_url + "/api2/json" + path;
  req.headers.emplace_back("Authorization", "PVEAPIToken=" + options_.token);
  if (!form.empty()) req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  if (ctx && ctx->fencing_token > 0) {
    req.headers.emplace_back("X-ZLH-Fencing-Token", std::to_string(ctx->fencing_token));
  }
  if (ctx && !ctx->idempotency_key.empty()) {
    // Which workflow step made the call: services may ignore it; zlh-sim records it.
    req.headers.emplace_back("X-ZLH-Idempotency-Key", ctx->idempotency_key);
  }
  req.body = std::move(form);
  req.timeout = options_.request_timeout;
  req.verify_tls = options_.verify_tls;
  req.ca_file = options_.ca_file;
  std::string what = "proxmox " + method + " " + path;
  auto res = co_await http_.Send(std::move(req));
  if (!res.ok()) co_return res.status();
  if (res->status < 200 || res->status >= 300) co_return ErrorOf(*res, what);
  boost::system::error_code ec;
  json::value v = json::parse(res->body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("data")) {
    co_return Unavailable(what + ": the answer is not Proxmox's {\"data\": ...}");
  }
  co_return json::serialize(v.as_object().at("data"));
}

Task<Status> ProxmoxApi::RunTask(std::string method, std::string path, std::string form,
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
      // "WARNINGS: 2": the task did its work and logged warnings (Proxmox counts it a success).
      if (exit == "OK" || exit.rfind("WARNINGS:", 0) == 0) co_return Status::Ok();
      std::string id(upid.as_string());
      co_return Unavailable("proxmox task " + TaskName(id) + " failed: " + Trimmed(exit) + " (" +
                            id + ")");
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

Task<Result<std::string>> ProxmoxApi::CurrentStatus(std::string node, int64_t vmid) {
  auto data = co_await Call(
      "GET", "/nodes/" + node + "/lxc/" + std::to_string(vmid) + "/status/current", "", nullptr);
  if (!data.ok()) co_return data.status();
  boost::system::error_code ec;
  json::value v = json::parse(*data, ec);
  if (ec || !v.is_object() || !v.as_object().contains("status") ||
      !v.as_object().at("status").is_string()) {
    co_return Unavailable("proxmox status of " + std::to_string(vmid) + ": unexpected answer");
  }
  co_return std::string(v.as_object().at("status").as_string());
}

}  // namespace zlh::activities
