// The outside services the ZLH workflows act on, besides the hypervisor (hypervisor.h): the agent
// in each container, the Velocity proxy's registration plugin, DNS (Cloudflare-style), billing
// status, backups, the notifier (Discord webhooks) and the mailer (SMTP). EXTERNAL-APIS.md holds
// the APIs' facts.
//
// Every mutating call takes the step's CallContext (its fencing token goes out as
// X-ZLH-Fencing-Token) and is idempotent: repeating it after a crash is success, not a duplicate.
// Errors: kUnavailable / kDeadlineExceeded for what a retry may fix (no answer, 5xx, 429),
// kNotFound, kFailedPrecondition (a conflict, a stale fencing token) and kInvalidArgument for what
// it cannot. The notifier is the exception: Notifier::PostPart is one unfenced attempt under an
// idempotency key, and tells what came of it (PostResult) for its caller to decide.
//
// Thread-safety: implementations may be shared; calls complete on the caller's executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "activities/hypervisor.h"
#include "base/duration.h"
#include "base/status.h"

namespace zlh::activities {

// Which container's agent a call is for: its VMID and its recorded address (SPEC §9.1; "" when
// none is recorded, for a server provisioned before addresses were).
struct AgentTarget {
  int64_t vmid = 0;
  std::string address;  // bare IPv4
};

// What an agent's GET /health tells (docs/agent-api.md).
struct AgentHealth {
  std::string status;    // "ready", "installing", "starting" or "error"
  std::string workload;  // "running", "stopped", "crashed", "installing"; "" when not told
  int64_t players = -1;  // players online; -1 when not told
};

// The ZLH agent inside a container (reached through a URL template, see agent_http.h).
class Agent {
 public:
  virtual ~Agent() = default;
  // GET /health: its status (required), workload and players. kUnavailable when the
  // agent does not answer (the TCP connect fails), kDeadlineExceeded when it answers too slowly;
  // kFailedPrecondition when the URL needs the address and the target has none.
  virtual boost::asio::awaitable<Result<AgentHealth>> Health(AgentTarget target) = 0;
  // POST /install {game, loader}.
  virtual boost::asio::awaitable<Status> Install(const CallContext& ctx, AgentTarget target,
                                                 std::string game, std::string loader) = 0;
  // POST /workload/start or /workload/stop.
  virtual boost::asio::awaitable<Status> Workload(const CallContext& ctx, AgentTarget target,
                                                  bool start) = 0;
  // POST /service/restart.
  virtual boost::asio::awaitable<Status> RestartService(const CallContext& ctx,
                                                        AgentTarget target) = 0;
};

struct ProxyServer {
  std::string name;
  std::string address;  // "HOST:PORT"
};

// The Velocity proxy's registration plugin.
class Proxy {
 public:
  virtual ~Proxy() = default;
  virtual boost::asio::awaitable<Result<std::vector<ProxyServer>>> List() = 0;
  // The same name and address already registered is success.
  virtual boost::asio::awaitable<Status> Register(const CallContext& ctx, std::string name,
                                                  std::string address) = 0;
  // An absent name is success.
  virtual boost::asio::awaitable<Status> Unregister(const CallContext& ctx, std::string name) = 0;
};

struct DnsRecord {
  std::string id;       // the provider's id (empty before it exists)
  std::string type;     // "A" or "SRV"
  std::string name;     // the fully qualified name
  std::string content;  // A: the address; SRV: "PRIORITY WEIGHT PORT TARGET"
};

// A Cloudflare-style DNS zone.
class Dns {
 public:
  virtual ~Dns() = default;
  // The records named `name` (every type).
  virtual boost::asio::awaitable<Result<std::vector<DnsRecord>>> List(std::string name) = 0;
  // Every record of the zone (for the controller's observe: a few paged calls, not two per server).
  virtual boost::asio::awaitable<Result<std::vector<DnsRecord>>> ListZone() = 0;
  // Creates the record; the same type, name and content already present is success, and a record
  // of that type and name with other content is replaced.
  virtual boost::asio::awaitable<Status> Publish(const CallContext& ctx, DnsRecord record) = 0;
  // Deletes every record of `type` named `name`; none is success.
  virtual boost::asio::awaitable<Status> Unpublish(const CallContext& ctx, std::string type,
                                                   std::string name) = 0;
};

// The billing system's view of a customer.
class Billing {
 public:
  virtual ~Billing() = default;
  // "active" or "suspended"; kNotFound for an unknown customer.
  virtual boost::asio::awaitable<Result<std::string>> CustomerStatus(std::string customer_id) = 0;
};

struct BackupInfo {
  std::string id;  // the volume id, e.g. "local:backup/vzdump-lxc-101-2026_11_27-10_00_00.tar.zst"
  int64_t created_ms = 0;
  int64_t vmid = 0;  // the container it is a backup of (0 when the storage does not say)
};

// Container backups (Proxmox vzdump).
class Backups {
 public:
  virtual ~Backups() = default;
  // Backs up container `vmid` now, and waits for it.
  virtual boost::asio::awaitable<Status> Run(const CallContext& ctx, std::string node,
                                             int64_t vmid) = 0;
  // The container's backups, oldest first.
  virtual boost::asio::awaitable<Result<std::vector<BackupInfo>>> List(std::string node,
                                                                       int64_t vmid) = 0;
  // The newest backup of every container backed up on `node`'s backup storage (one call per node,
  // for the controller's backup check): vmid -> its creation time (ms).
  virtual boost::asio::awaitable<Result<std::map<int64_t, int64_t>>> Newest(std::string node) = 0;
  // Restores container `vmid` from backup `backup_id` (the container is replaced), and waits.
  virtual boost::asio::awaitable<Status> Restore(const CallContext& ctx, std::string node,
                                                 int64_t vmid, std::string backup_id) = 0;
};

// What one attempt to post one part of a message came to (Notifier::PostPart): an answer
// (`transport` OK, `http_status` its status) or none (`transport` says why).
struct PostResult {
  long http_status = 0;  // 0 when no answer came
  // OK when an answer came. Otherwise kUnavailable (no connection, reset) or kDeadlineExceeded
  // (timed out), which a later attempt may fix, or kInvalidArgument when no request could be made
  // (no webhook for the channel, a part beyond the message's).
  Status transport;
  std::optional<Millis> retry_after;  // a 429's wait: its body's retry_after, else Retry-After
  int discord_code = 0;               // an error body's `code` (10015: unknown webhook); 0: none
  std::string message;  // an error's word: its body's `message`, else the reason phrase
  // A 2xx answer: the part is shown.
  bool delivered() const { return transport.ok() && http_status >= 200 && http_status < 300; }
};

// Messages to the operator (Discord webhooks, one per channel).
class Notifier {
 public:
  virtual ~Notifier() = default;

  // How many messages (parts) `content` is posted as; at least 1.
  virtual size_t PartCount(const std::string& content) const = 0;
  // One attempt at part `part` (from 0, below PartCount) of `content` to `channel`: no retry, no
  // waiting, and no fencing token (a notification's delivery carries a decision recorded under
  // one; it makes none). `ping` pings the channel's configured role (else @here), on part 0 only;
  // otherwise nobody is pinged. Its nonce is DiscordNonce(key, part) (none for an empty key).
  virtual boost::asio::awaitable<PostResult> PostPart(std::string key, std::string channel,
                                                      std::string content, bool ping,
                                                      size_t part) = 0;
};

// Email to the operators (SPEC §10; SmtpMailer over SMTP).
class Mailer {
 public:
  virtual ~Mailer() = default;
  // Delivers `text` from `channel` to the configured recipients, its Message-ID derived from the
  // call's idempotency key (a repeat is recognisable as one). kUnavailable / kDeadlineExceeded
  // for what a later attempt may fix (no connection, a timeout, a 4xx reply); kInvalidArgument
  // when the server refuses for good (a 5xx); kFailedPrecondition for a configuration that cannot
  // work.
  virtual boost::asio::awaitable<Status> Send(const CallContext& ctx, std::string channel,
                                              std::string text) = 0;
};

}  // namespace zlh::activities
