#include "controller/observe.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <map>
#include <memory>
#include <set>

#include "activities/services.h"
#include "base/clock.h"
#include "fleet/tables.h"
#include "flows/steps.h"
#include "journal/format.h"

namespace zlh::controller {
namespace {

namespace asio = boost::asio;
using workflows::Task;

// Runs fn(0..n-1) with at most `limit` in flight; returns when all are done.
Task<void> ForEachBounded(size_t n, size_t limit, std::function<Task<void>(size_t)> fn) {
  auto ex = co_await asio::this_coro::executor;
  struct Shared {
    explicit Shared(asio::any_io_executor e) : done(e, std::chrono::hours(24)) {}
    size_t next = 0;
    size_t running = 0;
    asio::steady_timer done;
  };
  auto shared = std::make_shared<Shared>(ex);
  size_t workers = std::min(n, std::max<size_t>(limit, 1));
  if (workers == 0) co_return;
  shared->running = workers;
  for (size_t w = 0; w < workers; ++w) {
    asio::co_spawn(
        ex,
        [shared, n, fn]() -> Task<void> {
          while (shared->next < n) co_await fn(shared->next++);
          if (--shared->running == 0) shared->done.cancel();
        },
        asio::detached);
  }
  // A worker whose calls all completed without suspending may have finished already (co_spawn can
  // run it inline): then there is nothing to wait for, and a cancel before the wait would be lost.
  if (shared->running > 0) co_await shared->done.async_wait(asio::as_tuple(asio::use_awaitable));
}

// A DNS name as DNS compares names: lower case, without the root's trailing dot.
std::string DnsKey(std::string_view name) {
  std::string key(name);
  if (!key.empty() && key.back() == '.') key.pop_back();
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
  return key;
}

// The repairs not ended, per server: level-3 proposals (open until they end) and level 1-2
// repairs (in flight, for the concurrency limits).
void CountRepairs(const journal::Journal& journal, std::vector<ServerObservation>& servers) {
  std::map<std::string, ServerObservation*> by_id;
  for (auto& so : servers) by_id[so.server_id] = &so;
  auto unfinished = journal.IdsWithStatus({proto::QUEUED, proto::RUNNING, proto::WAITING});
  for (const auto& id : unfinished.ok() ? *unfinished : std::vector<std::string>()) {
    auto summary = journal.ReadSummary(id);
    if (!summary.ok() || !summary->has_value() || (*summary)->type() != "repair") continue;
    auto first = journal.Get(journal::Cf::kEvents, journal::EventKey(id, 1));
    proto::Event started;
    if (!first.ok() || !first->has_value() || !started.ParseFromString(**first)) continue;
    boost::system::error_code ec;
    boost::json::value in = boost::json::parse(started.workflow_started().input(), ec);
    if (ec || !in.is_object()) continue;
    const auto* server = in.as_object().if_contains("serverId");
    const auto* level = in.as_object().if_contains("level");
    if (!server || !server->is_string() || !level || !level->is_int64()) continue;
    auto it = by_id.find(std::string(server->as_string()));
    if (it == by_id.end()) continue;
    if (level->as_int64() >= 3) {
      it->second->open_proposal = true;
    } else if (level->as_int64() >= 1) {  // housekeeping (level 0) is not limited
      ++it->second->repairs_in_flight;
    }
  }
}

// When the newest scheduled journal backup was taken and verified (SPEC §11), into `o`.
void NewestJournalBackup(const journal::Journal& journal, Observation& o) {
  auto newest = fleet::ReadLastJournalBackup(journal);
  if (!newest.ok()) {
    o.errors.push_back("journal: " + newest.status().ToString());
  } else if (newest->has_value()) {
    o.journal_backup_ms = (*newest)->taken_ms();
  }
}

// Per customer with live servers: the webhooks' word and billing's. What failed goes to *error.
Task<void> ObserveBilling(const flows::Deps& d, Observation& o, std::string* error) {
  const config::Settings& s = *d.settings;
  std::set<std::string> customers;
  for (const auto& so : o.servers) customers.insert(so.customer_id);
  for (const auto& id : customers) {
    auto recorded = fleet::ReadBillingStatus(*d.journal, id);
    o.customers.push_back({id, recorded.ok() ? *recorded : "active", ""});
  }
  size_t billing_errors = 0;
  co_await ForEachBounded(o.customers.size(), s.observe_concurrency, [&](size_t i) -> Task<void> {
    if (!d.billing) co_return;
    auto status = co_await d.billing->CustomerStatus(o.customers[i].customer_id);
    if (status.ok()) {
      o.customers[i].billing = *status;
    } else if (status.status().code() != Code::kNotFound) {
      ++billing_errors;
    }
  });
  if (billing_errors) *error = "billing: " + std::to_string(billing_errors) + " customers unanswered";
}

// Per server with a running container: the agent, a bounded number at once. What failed goes to
// *error.
Task<void> ObserveAgents(const flows::Deps& d, Observation& o, std::string* error) {
  const config::Settings& s = *d.settings;
  size_t agent_errors = 0;
  co_await ForEachBounded(o.servers.size(), s.observe_concurrency, [&](size_t i) -> Task<void> {
    ServerObservation& so = o.servers[i];
    if (so.container_exists && so.container_status == "running") {
      auto health = co_await d.agent->Health({so.vmid, so.address});
      if (health.ok()) {
        so.agent_known = true;
        so.agent = health->status;
        so.workload = health->workload;
      } else if (health.status().code() == Code::kUnavailable ||
                 health.status().code() == Code::kDeadlineExceeded) {
        so.agent_known = true;
        so.agent = "unreachable";
      } else {
        ++agent_errors;
      }
    }
  });
  if (agent_errors) *error = "agent: " + std::to_string(agent_errors) + " servers unanswered";
}

}  // namespace

Task<Observation> Observe(const flows::Deps& d, int64_t tick) {
  Observation o;
  o.tick = tick;
  o.observed_ms = NowMs();
  NewestJournalBackup(*d.journal, o);
  const config::Settings& s = *d.settings;
  auto servers = fleet::ListServers(*d.journal);
  if (!servers.ok()) {
    o.errors.push_back("journal: " + servers.status().ToString());
    co_return o;
  }
  std::set<std::string> drained;
  auto drains = fleet::ListNodeDrains(*d.journal);
  if (!drains.ok()) o.errors.push_back("journal: " + drains.status().ToString());
  for (const auto& drain : drains.ok() ? *drains : std::vector<proto::NodeDrain>()) {
    if (drain.on()) drained.insert(drain.node());
  }
  for (const auto& server : *servers) {
    if (server.status() != proto::SERVER_RUNNING && server.status() != proto::SERVER_STOPPED) continue;
    ServerObservation so;
    so.server_id = server.server_id();
    so.name = server.name();
    so.ctype = server.ctype();
    so.vmid = server.vmid();
    so.node = server.node();
    so.address = server.address();
    so.created_ms = server.created_ms();
    so.status = fleet::ServerStatusName(server.status());
    so.customer_id = server.customer_id();
    so.stopped_by_billing = server.stopped_by_billing();
    auto lease = fleet::ReadLease(*d.journal, server.server_id());
    so.lease_held = lease.ok() && !lease->holder().empty();
    auto maintenance = fleet::ReadMaintenance(*d.journal, server.server_id());
    so.maintenance = maintenance.ok() && maintenance->has_value() && (*maintenance)->on();
    so.node_drained = drained.count(so.node) > 0;
    o.servers.push_back(std::move(so));
  }
  CountRepairs(*d.journal, o.servers);

  // Leases not heartbeated for longer than the stale limit, and whether their holders live.
  auto leases = fleet::ListLeases(*d.journal);
  if (!leases.ok()) o.errors.push_back("journal: " + leases.status().ToString());
  for (const auto& lease : leases.ok() ? *leases : std::vector<proto::Lease>()) {
    if (lease.holder().empty()) continue;
    auto beat = fleet::ReadHeartbeat(*d.journal, lease.server_id());
    int64_t last = beat.ok() && beat->has_value() ? **beat : lease.acquired_ms();
    int64_t silent = NowMs() - last;
    if (silent <= s.lease_stale_after.count()) continue;
    auto summary = d.journal->ReadSummary(lease.holder());
    std::string state = "unknown";
    if (summary.ok() && summary->has_value()) {
      int st = (*summary)->status();
      bool ended = st == proto::COMPLETED || st == proto::FAILED || st == proto::CANCELLED;
      state = ended ? "ended" : "live";
    }
    o.stale_leases.push_back({lease.server_id(), lease.holder(), lease.epoch(), state, silent});
  }

  // One call each for the containers and the proxy's registrations.
  auto guests = co_await d.hypervisor->Guests();
  if (!guests.ok()) o.errors.push_back("hypervisor: " + guests.status().ToString());
  auto registered = co_await d.proxy->List();
  if (!registered.ok()) o.errors.push_back("proxy: " + registered.status().ToString());
  std::map<int64_t, activities::Guest> by_vmid;
  if (guests.ok()) {
    for (const auto& g : *guests) by_vmid[g.vmid] = g;
  }
  std::map<std::string, std::string> proxy;
  if (registered.ok()) {
    for (const auto& r : *registered) proxy[r.name] = r.address;
  }
  const auto& px = s.file.proxy();
  for (auto& so : o.servers) {
    auto g = by_vmid.find(so.vmid);
    // A guest Proxmox's status cache is behind on (just restored: status "unknown", perhaps no
    // name) is not known yet: no drift is decided on it this tick.
    bool behind = g != by_vmid.end() && (g->second.name.empty() || g->second.status == "unknown");
    if (guests.ok() && !behind) {
      so.container_known = true;
      so.container_exists = g != by_vmid.end() && g->second.name == so.name;
      so.container_status = so.container_exists ? g->second.status : "";
    }
    if (registered.ok() && so.ctype != "dev") {
      so.proxy_known = true;
      auto r = proxy.find(so.name);
      // Without a recorded address (provisioned before addresses) only the name can be checked.
      so.proxy_ok =
          r != proxy.end() &&
          (so.address.empty() || r->second == so.address + ":" + std::to_string(px.game_port()));
    }
  }

  // The newest backup of each server: one call per node's backup storage.
  if (d.backups) {
    std::map<std::string, std::vector<ServerObservation*>> by_node;
    for (auto& so : o.servers) by_node[so.node].push_back(&so);
    for (auto& [node, on_node] : by_node) {
      auto newest = co_await d.backups->Newest(node);
      if (!newest.ok()) {
        o.errors.push_back("backups on " + node + ": " + newest.status().ToString());
        continue;
      }
      for (ServerObservation* so : on_node) {
        so->backups_known = true;
        auto it = newest->find(so->vmid);
        so->last_backup_ms = it == newest->end() ? 0 : it->second;
      }
    }
  }

  // Workflows running (not waiting) without an event for longer than the smaller stuck limit.
  {
    int64_t limit = std::min(s.stuck_provisioning, s.stuck_workflow).count();
    auto running = d.journal->IdsWithStatus({proto::RUNNING});
    auto cursor = d.journal->NewCursor(journal::Cf::kEvents);
    for (const auto& id : running.ok() ? *running : std::vector<std::string>()) {
      if (!cursor->SeekLast(journal::EventPrefix(id))) continue;
      proto::Event last;
      if (!last.ParseFromArray(cursor->value().data(), static_cast<int>(cursor->value().size()))) continue;
      int64_t silent = NowMs() - last.time_ms();
      if (silent <= limit) continue;
      auto summary = d.engine ? d.engine->Summary(id) : Result<proto::WorkflowSummary>(NotFound(""));
      if (!summary.ok() || summary->status() != proto::RUNNING) continue;  // waits are legitimate
      std::string step = last.has_step_started()     ? last.step_started().name()
                         : last.has_step_completed() ? last.step_completed().name()
                         : last.has_step_failed()    ? last.step_failed().name()
                         : last.has_step_waiting()   ? last.step_waiting().name()
                                                     : "";
      o.stuck.push_back({id, summary->type(), silent, step});
    }
  }

  // DNS: the whole zone in a few paged calls, then each server's records from it (names compared
  // as DNS compares them: case-insensitive, a trailing dot or not).
  auto zone = co_await d.dns->ListZone();
  if (zone.ok()) {
    std::map<std::string, std::vector<const activities::DnsRecord*>> by_name;
    for (const auto& r : *zone) by_name[DnsKey(r.name)].push_back(&r);
    std::string srv_content = "0 5 " + std::to_string(px.public_port()) + " " + px.public_host();
    for (auto& so : o.servers) {
      bool dev = so.ctype == "dev";
      std::string a = dev ? so.address : px.public_address();
      so.dns_known = true;
      for (const auto* r : by_name[DnsKey(flows::Fqdn(s, so.name))]) {
        so.dns_a_ok |= r->type == "A" && (r->content == a || a.empty());  // "": see proxy_ok
      }
      if (dev) continue;
      for (const auto* r : by_name[DnsKey(flows::SrvName(s, so.name))]) {
        so.dns_srv_ok |= r->type == "SRV" && r->content == srv_content;
      }
    }
  } else {
    o.errors.push_back("dns: " + zone.status().ToString());
  }

  // Billing per customer and the agent per server: calls that do not depend on each other, so
  // they run side by side (each at most observe.concurrency at once): the tick waits for the
  // longer of the two, not their sum.
  using namespace asio::experimental::awaitable_operators;
  std::string billing_error, agent_error;
  co_await (ObserveBilling(d, o, &billing_error) && ObserveAgents(d, o, &agent_error));
  for (std::string* e : {&billing_error, &agent_error}) {
    if (!e->empty()) o.errors.push_back(std::move(*e));
  }
  co_return o;
}

}  // namespace zlh::controller
