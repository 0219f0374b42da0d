// CloudflareDns (dns_http.h): Cloudflare v4 DNS records for one zone, listed before changed.
// Thread-safety: as its header says (shareable; no mutable state).
#include "activities/dns_http.h"

#include <algorithm>
#include <boost/json.hpp>
#include <sstream>

namespace zlh::activities {

namespace json = boost::json;

struct CloudflareDns::Answer {
  Status status;                     // what the call came to: OK, or Cloudflare's errors
  std::vector<int64_t> error_codes;  // Cloudflare's, e.g. 81057 "Record already exists."
  json::value result;
  json::value result_info;
};

namespace {

// Cloudflare's "the record is there already" (81057; 81058 for an identical record).
bool AlreadyExists(const std::vector<int64_t>& codes) {
  return std::any_of(codes.begin(), codes.end(),
                     [](int64_t c) { return c == 81057 || c == 81058; });
}

struct Srv {
  int64_t priority = 0, weight = 0, port = 0;
  std::string target;
  std::string Content() const {
    return std::to_string(priority) + " " + std::to_string(weight) + " " + std::to_string(port) +
           " " + target;
  }
};

// "PRIORITY WEIGHT PORT TARGET", each number 0..65535.
Result<Srv> ParseSrv(const std::string& content) {
  std::istringstream in(content);
  Srv s;
  std::string rest;
  if (!(in >> s.priority >> s.weight >> s.port >> s.target) || (in >> rest) ||
      std::max({s.priority, s.weight, s.port}) > 65535 ||
      std::min({s.priority, s.weight, s.port}) < 0) {
    return InvalidArgument("SRV content '" + content + "' is not \"PRIORITY WEIGHT PORT TARGET\"");
  }
  return s;
}

// A record as Cloudflare lists it. An SRV's `data` holds its parts (Cloudflare's own `content`
// leaves the priority out); our content is "PRIORITY WEIGHT PORT TARGET".
DnsRecord RecordOf(const json::value& v) {
  DnsRecord r{StringField(v, "id"), StringField(v, "type"), StringField(v, "name"),
              StringField(v, "content")};
  const json::object& o = v.as_object();
  auto data = o.find("data");
  if (r.type == "SRV" && data != o.end() && data->value().is_object()) {
    const json::object& d = data->value().as_object();
    auto num = [&](const char* key) {
      auto it = d.find(key);
      return it != d.end() && it->value().is_number() ? it->value().to_number<int64_t>() : 0;
    };
    r.content =
        Srv{num("priority"), num("weight"), num("port"), StringField(d, "target")}.Content();
  }
  return r;
}

std::string ErrorsText(const json::value& envelope) {
  std::string out;
  const json::object* o = envelope.if_object();
  const json::value* errors = o ? o->if_contains("errors") : nullptr;
  if (!errors || !errors->is_array()) return out;
  for (const json::value& e : errors->as_array()) {
    if (!out.empty()) out += "; ";
    const json::object* eo = e.if_object();
    if (eo && eo->contains("code") && eo->at("code").is_number()) {
      out += std::to_string(eo->at("code").to_number<int64_t>()) + " ";
    }
    out += StringField(e, "message");
  }
  return out;
}

}  // namespace

CloudflareDns::CloudflareDns(HttpClient& http, CloudflareOptions options)
    : per_page_(std::max(1, options.per_page)),
      zone_per_page_(std::max(1, options.zone_per_page)),
      service_(http, JsonServiceOptions{std::move(options.token), options.verify_tls,
                                        std::move(options.ca_file), options.request_timeout}) {
  while (!options.base_url.empty() && options.base_url.back() == '/') options.base_url.pop_back();
  records_url_ = options.base_url + "/zones/" + UrlEscape(options.zone_id) + "/dns_records";
}

Task<Result<CloudflareDns::Answer>> CloudflareDns::Call(std::string method, std::string path,
                                                        std::string body, const CallContext* ctx,
                                                        const std::string& what) {
  auto res = co_await service_.Send(std::move(method), records_url_ + path, std::move(body), ctx);
  if (!res.ok()) co_return res.status();
  boost::system::error_code ec;
  json::value v = json::parse(res->body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("success")) {
    // Not Cloudflare's envelope (a proxy's error page, say): the HTTP status is all there is.
    Status s = StatusOfHttp(res->status, what, res->body);
    co_return s.ok() ? Unavailable(what + ": the answer is not Cloudflare's envelope") : s;
  }
  Answer a;
  const json::object& o = v.as_object();
  bool success = o.at("success").is_bool() && o.at("success").as_bool();
  if (auto it = o.find("errors"); it != o.end() && it->value().is_array()) {
    for (const json::value& e : it->value().as_array()) {
      const json::object* eo = e.if_object();
      if (eo && eo->contains("code") && eo->at("code").is_number()) {
        a.error_codes.push_back(eo->at("code").to_number<int64_t>());
      }
    }
  }
  if (res->status >= 200 && res->status < 300 && success) {
    a.result = o.contains("result") ? o.at("result") : json::value();
    a.result_info = o.contains("result_info") ? o.at("result_info") : json::value();
  } else if (res->status >= 200 && res->status < 300) {
    a.status = InvalidArgument(what + ": refused: " + ErrorsText(v));
  } else {
    a.status = StatusOfHttp(res->status, what, ErrorsText(v));
  }
  co_return a;
}

Task<Result<std::vector<DnsRecord>>> CloudflareDns::Query(const std::string& type,
                                                          const std::string& name, int per_page) {
  std::string what = "cloudflare list " + (type.empty() ? "" : type + " ") +
                     (name.empty() ? "the zone" : name);
  std::vector<DnsRecord> out;
  for (int64_t page = 1;; ++page) {
    std::string query = "?page=" + std::to_string(page) + "&per_page=" + std::to_string(per_page) +
                        (name.empty() ? "" : "&name=" + UrlEscape(name)) +
                        (type.empty() ? "" : "&type=" + UrlEscape(type));
    auto a = co_await Call("GET", query, "", nullptr, what);
    if (!a.ok()) co_return a.status();
    if (!a->status.ok()) co_return a->status;
    if (!a->result.is_array()) co_return Unavailable(what + ": the result is not a list");
    const json::array& records = a->result.as_array();
    for (const json::value& r : records) {
      if (!r.is_object()) co_return Unavailable(what + ": a record is not an object");
      out.push_back(RecordOf(r));
    }
    // Cloudflare says how many pages there are; without that, only an empty page is the last (a
    // server may hold per_page below what was asked, so a short page proves nothing).
    const json::object* info = a->result_info.if_object();
    if (info && info->contains("total_pages") && info->at("total_pages").is_number()) {
      if (page >= info->at("total_pages").to_number<int64_t>()) break;
    }
    if (records.empty() || page >= 10'000) break;  // a server that pages forever
  }
  co_return out;
}

Task<Result<std::vector<DnsRecord>>> CloudflareDns::List(std::string name) {
  co_return co_await Query("", name, per_page_);
}

Task<Result<std::vector<DnsRecord>>> CloudflareDns::ListZone() {
  co_return co_await Query("", "", zone_per_page_);
}

Task<Status> CloudflareDns::Delete(const CallContext& ctx, const DnsRecord& record) {
  std::string what =
      "cloudflare delete " + record.type + " " + record.name + " (" + record.id + ")";
  auto a = co_await Call("DELETE", "/" + UrlEscape(record.id), "", &ctx, what);
  if (!a.ok()) co_return a.status();
  if (a->status.code() == Code::kNotFound) co_return Status::Ok();  // gone already
  co_return a->status;
}

Task<Status> CloudflareDns::Publish(const CallContext& ctx, DnsRecord record) {
  std::string what = "cloudflare publish " + record.type + " " + record.name;
  json::object body{{"type", record.type}, {"name", record.name}, {"ttl", 1}};
  if (record.name.empty()) co_return InvalidArgument(what + ": the name is empty");
  if (record.type == "A") {
    if (record.content.empty()) co_return InvalidArgument(what + ": the address is empty");
    body["content"] = record.content;
    body["proxied"] = false;  // game traffic cannot go through Cloudflare's HTTP proxy
  } else if (record.type == "SRV") {
    auto srv = ParseSrv(record.content);
    if (!srv.ok()) co_return srv.status().WithContext(what);
    record.content = srv->Content();
    body["data"] = json::object{{"priority", srv->priority},
                                {"weight", srv->weight},
                                {"port", srv->port},
                                {"target", srv->target}};
  } else {
    co_return InvalidArgument(what + ": the type must be A or SRV");
  }

  auto existing = co_await Query(record.type, record.name, per_page_);
  if (!existing.ok()) co_return existing.status();
  bool present = false;
  for (const DnsRecord& r : *existing) {
    if (r.content == record.content) {
      present = true;
    } else {
      ZLH_CO_RETURN_IF_ERROR(co_await Delete(ctx, r));  // replaced
    }
  }
  if (present) co_return Status::Ok();
  auto a = co_await Call("POST", "", json::serialize(body), &ctx, what);
  if (!a.ok()) co_return a.status();
  if (!a->status.ok() && AlreadyExists(a->error_codes)) co_return Status::Ok();  // a racing twin
  co_return a->status;
}

Task<Status> CloudflareDns::Unpublish(const CallContext& ctx, std::string type, std::string name) {
  if (type.empty() || name.empty()) {
    co_return InvalidArgument("cloudflare unpublish: a type and a name are required");
  }
  auto existing = co_await Query(type, name, per_page_);
  if (!existing.ok()) co_return existing.status();
  for (const DnsRecord& r : *existing) ZLH_CO_RETURN_IF_ERROR(co_await Delete(ctx, r));
  co_return Status::Ok();
}

}  // namespace zlh::activities
