// Probes: read-only questions to each outside service, for `zlhd --check-config` (SPEC §9.3).
// Each asks one thing that changes nothing anywhere (GET only) and answers what it learned, or
// why it could not: no answer, a refused credential (naming the config field that holds it), or
// an answer that says the setup is wrong. Credentials and webhook URLs never appear in a message.
//
// Thread-safety: shareable (no mutable state); its HttpClient must outlive it.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <vector>

#include "activities/billing_http.h"
#include "activities/dns_http.h"
#include "activities/http_client.h"
#include "activities/proxmox_api.h"
#include "activities/proxy_http.h"

namespace zlh::activities {

// The privileges the Proxmox activities need on "/" (clone, configure, power, status, destroy,
// backups on the configured storage, node load for placement, the bridges): the ZLHFlow role of
// docs/proxmox.md.
inline constexpr const char* kProxmoxPrivileges[] = {
    "VM.Allocate",       "VM.Audit",          "VM.Clone",          "VM.PowerMgmt",
    "VM.Backup",         "VM.Config.Disk",    "VM.Config.CPU",     "VM.Config.Memory",
    "VM.Config.Network", "VM.Config.Options", "Datastore.AllocateSpace", "Datastore.Audit",
    "Sys.Audit",         "SDN.Use"};

struct ProbeOptions {
  ProxmoxOptions proxmox;
  CloudflareOptions dns;
  ProxyOptions proxy;
  BillingOptions billing;
  Millis discord_timeout{10'000};
};

// A guest of the cluster that is a template ("template": 1 in /cluster/resources).
struct TemplateGuest {
  int64_t vmid = 0;
  std::string node;
};

class Probes {
 public:
  Probes(HttpClient& http, ProbeOptions options);

  // Proxmox GET /version: "Proxmox VE 8.2.4".
  Task<Result<std::string>> ProxmoxVersion() const;
  // GET /access/permissions?path=/: OK when the token holds every kProxmoxPrivileges on "/";
  // kFailedPrecondition naming the ones it lacks.
  Task<Result<std::string>> ProxmoxPrivileges() const;
  // GET /cluster/resources?type=vm: the guests that are templates.
  Task<Result<std::vector<TemplateGuest>>> ProxmoxTemplates() const;
  // Cloudflare GET /user/tokens/verify: OK when the token is "active".
  Task<Result<std::string>> DnsToken() const;
  // GET /zones/{zoneId}: OK when the zone exists and is named `zone`.
  Task<Result<std::string>> DnsZone(std::string zone) const;
  // The proxy plugin's GET /servers: how many servers it has registered.
  Task<Result<std::string>> ProxyServers() const;
  // Billing GET /customers/{id} of a customer that need not exist: a 404 is an answer too.
  Task<Result<std::string>> Billing() const;
  // Discord GET on the webhook URL of `channel`: the webhook's name (the URL, a secret, is never
  // told).
  Task<Result<std::string>> DiscordWebhook(std::string channel, std::string url) const;

 private:
  // GET `url` with `authorization` (none when empty) and `tls`; the answer, any status, or
  // kUnavailable/kDeadlineExceeded saying that none came.
  Task<Result<HttpResponse>> Get(std::string url, std::string authorization, Millis timeout,
                                 bool verify_tls, std::string ca_file) const;
  Task<Result<std::string>> ProxmoxData(std::string path) const;
  Task<Result<boost::json::value>> CloudflareResult(std::string path) const;

  HttpClient& http_;
  ProbeOptions options_;
};

}  // namespace zlh::activities
