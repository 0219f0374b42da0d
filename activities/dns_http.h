// CloudflareDns: the Dns over Cloudflare's v4 API (EXTERNAL-APIS.md) for one zone: records listed
// by name (paged), A records unproxied with automatic TTL, SRV records as `data` {priority, weight,
// port, target}. Publish and Unpublish list first, so a repeat changes nothing. Answers are
// Cloudflare's envelope; `success: false` is an error carrying Cloudflare's `errors`.
// Errors: kUnavailable / kDeadlineExceeded for what a retry may fix (no answer, 5xx, 429),
// kInvalidArgument for a refused record, kFailedPrecondition for a stale fencing token.
//
// Thread-safety: shareable; its HttpClient must outlive it.
#pragma once

#include <string>

#include "activities/http_client.h"
#include "activities/json_service.h"
#include "activities/services.h"

namespace zlh::activities {

struct CloudflareOptions {
  // "https://api.cloudflare.com/client/v4", or zlh-sim's "http://127.0.0.1:9090/client/v4".
  std::string base_url = "https://api.cloudflare.com/client/v4";
  std::string zone_id;
  std::string token;  // an API token allowed to edit the zone's DNS
  bool verify_tls = true;
  std::string ca_file;
  Millis request_timeout{10'000};
  int per_page = 100;        // records a list by name asks for at a time
  int zone_per_page = 5000;  // records a list of the whole zone asks for at a time
};

class CloudflareDns final : public Dns {
 public:
  CloudflareDns(HttpClient& http, CloudflareOptions options);

  Task<Result<std::vector<DnsRecord>>> List(std::string name) override;
  Task<Result<std::vector<DnsRecord>>> ListZone() override;
  // `record.type` "A" (content: the IPv4 address) or "SRV" (content "PRIORITY WEIGHT PORT TARGET");
  // kInvalidArgument for anything else. Records of the type and name with other content are
  // deleted before the new one is created.
  Task<Status> Publish(const CallContext& ctx, DnsRecord record) override;
  Task<Status> Unpublish(const CallContext& ctx, std::string type, std::string name) override;

 private:
  struct Answer;  // dns_http.cc
  // Every record named `name` (every name when empty; of `type` unless it is empty), through every
  // page of `per_page` records.
  Task<Result<std::vector<DnsRecord>>> Query(const std::string& type, const std::string& name,
                                             int per_page);
  // DELETE of record `id`; one already gone is success.
  Task<Status> Delete(const CallContext& ctx, const DnsRecord& record);
  // One call of the API below the zone: Cloudflare's envelope and what it means (Answer::status);
  // an error when no envelope came back.
  Task<Result<Answer>> Call(std::string method, std::string path, std::string body,
                            const CallContext* ctx, const std::string& what);

  std::string records_url_;  // {base}/zones/{zone}/dns_records
  int per_page_;
  int zone_per_page_;
  JsonService service_;
};

}  // namespace zlh::activities
