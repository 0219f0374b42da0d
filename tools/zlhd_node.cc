// zlhd's node (zlhd_node.h).
#include "tools/zlhd_node.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <vector>

#include "api/api.h"
#include "api/billing_alerts.h"
#include "api/errors.h"
#include "api/http_server.h"
#include "api/tls_context.h"
#include "api/tokens.h"
#include "backup/keeper.h"
#include "base/clock.h"
#include "base/ids.h"
#include "controller/controller.h"
#include "controller/decision_log.h"
#include "controller/digest.h"
#include "controller/incidents.h"
#include "controller/journal_backup.h"
#include "controller/watchdog.h"
#include "fleet/outbox.h"
#include "flows/flows.h"
#include "flows/outside.h"
#include "journal/append_durably.h"
#include "journal/journal.h"
#include "notify/dispatcher.h"
#include "scheduler/cron.h"
#include "scheduler/leadership.h"
#include "scheduler/queues.h"
#include "sim/sim_server.h"
#include "systemd/supervision.h"
#include "tools/zlhd_reload.h"
#include "tools/zlhd_test_hooks.h"
#include "workflows/engine.h"
#include "workflows/registry.h"

namespace zlh::tools {
namespace {

namespace asio = boost::asio;
using workflows::Task;

// Writes `text` to `path` atomically (a temporary file renamed over it).
bool WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!(out << text)) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

// Once a day at local minute `minute` in `zone`: ticks numbered by local day.
scheduler::Schedule DailyAt(const date::time_zone* zone, int minute) {
  calendar::Daily daily{zone, minute};
  return {[daily](int64_t now) { return daily.PeriodAt(now); },
          [daily](int64_t day) { return daily.StartOf(day); }};
}

// This node's value for the lock: unique across nodes and restarts.
std::string NodeId() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + NewId();
}

// GET /api/controller's "redis": off (no --redis), ok, unreachable or auth_refused.
const char* RedisStateName(const scheduler::RedisLock* lock) {
  if (!lock) return "off";
  switch (lock->redis_state()) {
    case scheduler::RedisState::kOk:
      return "ok";
    case scheduler::RedisState::kAuthRefused:
      return "auth_refused";
    case scheduler::RedisState::kUnknown:
    case scheduler::RedisState::kUnreachable:
      break;
  }
  return "unreachable";
}

}  // namespace

// Everything the node runs, declared in the order it is built (so destroyed in reverse).
struct Node::Parts {
  Parts(NodeFlags f, config::Settings s, config::Fleet fl)
      : flags(std::move(f)), settings(std::move(s)), fleet(std::move(fl)) {}

  int OpenStores();
  int OpenSimulatedFleet();
  int Assemble();
  void AssembleController();
  int AssembleApi();
  boost::json::object ControllerJson() const;
  std::string Metrics() const;
  void RecordSignatureBurst(int64_t first_ms, int count);
  std::string SupervisionStatus() const;
  Result<config::Settings> ReadConfigAgain() const;
  void Reload();
  void AwaitReload();
  Task<void> Start();
  Task<void> Drain();

  NodeFlags flags;
  config::Settings settings;
  config::Fleet fleet;
  std::unique_ptr<journal::Journal> journal;
  std::optional<api::Tokens> tokens;
  std::unique_ptr<backup::Keeper> backups;
  asio::io_context io{1};
  std::unique_ptr<sim::SimServer> sim;
  std::unique_ptr<flows::Outside> outside;
  flows::Deps deps;
  workflows::Registry registry;
  controller::DecisionLog decisions;
  std::unique_ptr<scheduler::Queues> queues;
  std::unique_ptr<scheduler::Leadership> leadership;
  std::unique_ptr<workflows::Engine> engine;
  std::unique_ptr<scheduler::Cron> reconcile_cron;
  std::optional<scheduler::Cron> digest_cron;
  std::optional<scheduler::Cron> backup_cron;
  std::unique_ptr<notify::Dispatcher> dispatcher;
  std::unique_ptr<controller::Watchdog> watchdog;
  std::unique_ptr<api::Api> api;
  // api.tls's certificate, shared with the server (TlsContext::Replace swaps in a renewed one for
  // new connections); null: plain HTTP.
  std::shared_ptr<api::TlsContext> tls;
  std::unique_ptr<api::HttpServer> http;
  std::unique_ptr<systemd::Supervision> supervision;
  std::unique_ptr<asio::signal_set> stall_hook;  // tests only (zlhd_test_hooks.h)
  // SIGHUP, caught from the start on; one that comes before the loop runs waits for it.
  asio::signal_set reload_signal{io, SIGHUP};
  std::string sim_url;  // the in-process simulated fleet's, when it runs
  bool draining = false;
  int exit_code = 0;
};

int Node::Parts::OpenStores() {
  std::error_code mkdir_error;
  std::filesystem::create_directories(flags.data, mkdir_error);
  if (mkdir_error) {
    spdlog::error("cannot create the data directory {}: {}", flags.data, mkdir_error.message());
    return 2;
  }
  std::string journal_dir = flags.data + "/journal";
  journal::Options journal_options;
  journal_options.format = JournalFormatUnderTest();
  journal::Journal::Opened opened = journal::Journal::TryOpen(journal_dir, journal_options);
  if (!opened.journal) {
    spdlog::error("cannot open the journal ({}): {}; {}", journal::OpenErrorName(opened.error),
                  opened.status.message(), journal::OpenErrorHint(opened.error));
    return 3;
  }
  journal = std::move(opened.journal);
  spdlog::info("journal {} open (open #{})", journal_dir, journal->open_count());

  bool created = false;
  std::string tokens_path = flags.data + "/tokens";
  auto loaded = api::Tokens::LoadOrCreate(tokens_path, &created);
  if (!loaded.ok()) {
    spdlog::error("{}", loaded.status().message());
    return 2;
  }
  tokens = std::move(*loaded);
  if (created) spdlog::info("API tokens written to {} (mode 0600)", tokens_path);
  if (tokens->webhook_generated()) {
    spdlog::info("{} had no webhook line: a billing webhook secret was generated and appended",
                 tokens_path);
  }
  return 0;
}

int Node::Parts::OpenSimulatedFleet() {
  if (fleet.kind == config::FleetKind::kOneUrl) {
    spdlog::info("fleet: every service at {}", fleet.url);
    return 0;
  }
  if (fleet.kind != config::FleetKind::kSimulated) {
    spdlog::info("fleet: the services of {}", flags.config);
    return 0;
  }
  auto opened =
      sim::SimServer::Open(io, "127.0.0.1", 0, flags.data + "/sim-state.json", {"pve1", "pve2"});
  if (!opened.ok()) {
    spdlog::error("simulated fleet: {}", opened.status().ToString());
    return 2;
  }
  sim = std::move(*opened);
  auto url = sim->Start();
  if (!url.ok()) {
    spdlog::error("simulated fleet: {}", url.status().message());
    return 2;
  }
  spdlog::info("simulated fleet in-process at {} (state in {}/sim-state.json)", *url, flags.data);
  sim_url = *url;
  config::PointAtFleet(settings, sim_url);
  return 0;
}

int Node::Parts::Assemble() {
  outside = std::make_unique<flows::Outside>(settings);
  deps = outside->MakeDeps();
  deps.journal = journal.get();
  backups = std::make_unique<backup::Keeper>(
      *journal, backup::Place{settings.file.backup().dir().empty() ? flags.data + "/backups"
                                                                   : settings.file.backup().dir(),
                              flags.data + "/tokens", settings.backup_keep});
  if (Status s = flows::Register(registry, deps); !s.ok()) {
    spdlog::error("{}", s.ToString());
    return 2;
  }
  auto fencing = flags.redis ? fleet::FencingSource::kRedis : fleet::FencingSource::kJournal;
  if (Status s = controller::Register(registry, deps, &decisions, fencing, backups.get());
      !s.ok()) {
    spdlog::error("{}", s.ToString());
    return 2;
  }
  std::map<std::string, uint32_t> limits;
  for (const char* q : {"provision", "operation", "repair", "control"}) {
    limits[q] = settings.QueueLimit(q);
  }
  queues = std::make_unique<scheduler::Queues>(limits);
  // The node lock (SPEC 6.4). With Redis this node runs workflows only while it holds the lock,
  // and the lock's fencing token goes out with every mutating call; without, holding the journal
  // is the lock and the token is the journal's open count.
  leadership = std::make_unique<scheduler::Leadership>(io, journal->open_count());
  workflows::EngineOptions engine_options;
  engine_options.admission = queues.get();
  engine_options.fencing_token = [this] { return leadership->fencing_token(); };
  engine_options.may_act = [this] { return leadership->may_act(); };
  engine = std::make_unique<workflows::Engine>(io, *journal, registry, engine_options);
  queues->Attach(*engine);
  deps.engine = engine.get();
  AssembleController();
  return AssembleApi();
}

// The controller's crons (they run on the node that leads, only), the notification outbox's
// dispatcher and the watchdog.
void Node::Parts::AssembleController() {
  reconcile_cron = std::make_unique<scheduler::Cron>(*engine, settings.reconcile_interval,
                                                     controller::ReconcileStart);
  // The daily digest at its local time (SPEC 5.5), unless configured off.
  if (settings.digest_minute) {
    digest_cron.emplace(*engine, DailyAt(settings.business_hours.zone, *settings.digest_minute),
                        controller::DigestStart);
  }
  // The journal's daily backup at its local time (SPEC 11), unless configured off.
  if (settings.backup_minute) {
    backup_cron.emplace(*engine, DailyAt(settings.business_hours.zone, *settings.backup_minute),
                        controller::BackupStart);
  }
  std::vector<scheduler::Cron*> crons{reconcile_cron.get()};
  if (digest_cron) crons.push_back(&*digest_cron);
  if (backup_cron) crons.push_back(&*backup_cron);
  leadership->Attach(*engine, crons);
  // The notification outbox's delivery (SPEC §10): workflow entries only while this node leads.
  dispatcher = std::make_unique<notify::Dispatcher>(
      io.get_executor(), *journal, outside->notifications(), outside->mailer(),
      notify::OptionsOf(settings, [this] { return leadership->leader(); }));
  // What the workflows, the watchdog and the billing webhook record in the outbox goes out at once
  // (Wake posts to the dispatcher's executor, so any thread may call it).
  deps.notified = [this] { dispatcher->Wake(); };
  watchdog = std::make_unique<controller::Watchdog>(io.get_executor(), settings.reconcile_interval,
                                                    decisions, *journal, deps.notified,
                                                    [this] { return leadership->OtherLeads(); });
}

// The API and its HTTP(S) server; 2 when api.tls's files cannot be loaded.
int Node::Parts::AssembleApi() {
  api::ApiDeps api_deps{*engine, *journal, settings, *tokens, queues.get()};
  api_deps.hypervisor = deps.hypervisor;
  api_deps.notified = deps.notified;
  api_deps.on_signature_burst = [this](int64_t first_ms, int count) {
    RecordSignatureBurst(first_ms, count);
  };
  api_deps.backups = backups.get();
  api_deps.controller = [this] { return ControllerJson(); };
  api_deps.metrics = [this] { return Metrics(); };
  api_deps.outbox = [this] {
    notify::Snapshot s = dispatcher->snapshot();
    return api::OutboxView{s.pending, s.oldest_ms, s.failing};
  };
  api = std::make_unique<api::Api>(api_deps);

  api::ServerOptions http_options;
  http_options.host = flags.host;
  http_options.port = flags.port;
  http_options.error_response = api::TransportError;
  http_options.refuse_before_size = [this](const api::Request& headers) {
    return api->RefuseBeforeSize(headers);
  };
  if (settings.HasApiTls()) {
    const auto& files = settings.file.api().tls();
    auto loaded = api::TlsContext::Load(files.cert_file(), files.key_file());
    if (!loaded.ok()) {
      spdlog::error("api.tls: {}", loaded.status().message());
      return 2;
    }
    tls = http_options.tls = std::move(*loaded);
  }
  http = std::make_unique<api::HttpServer>(
      io, http_options, [this](const api::Request& req) { return api->Handle(req); });
  return 0;
}

// GET /api/controller: who leads, the last tick, the breakers and the last decisions.
boost::json::object Node::Parts::ControllerJson() const {
  namespace json = boost::json;
  auto time_or_null = [](int64_t ms) {
    return ms ? json::value(FormatRfc3339(ms)) : json::value();
  };
  const scheduler::RedisLock* lock = leadership->lock();
  auto breakers = controller::BreakersJson(*journal, NowMs());
  if (!breakers.ok()) spdlog::warn("GET /api/controller: {}", breakers.status().ToString());
  return json::object{
      {"leader", leadership->leader()},
      {"fencingToken", leadership->fencing_token()},
      {"lockTtlMs", lock ? lock->ttl().count() : 0},
      {"lastTickAt", time_or_null(decisions.last_tick_ms())},
      {"actingSince", time_or_null(leadership->leader() ? leadership->since_ms() : 0)},
      {"waitingUntil", time_or_null(leadership->waiting_until_ms())},
      {"redis", RedisStateName(lock)},
      {"breakers", breakers.ok() ? std::move(*breakers) : json::array()},
      {"lastDecisions", decisions.Json()}};
}

// The node's own gauges for /metrics: leadership, Redis, and the notification outbox.
std::string Node::Parts::Metrics() const {
  const scheduler::RedisLock* lock = leadership->lock();
  return "# HELP zlh_controller_leader 1 while this node holds the controller lock and runs "
         "workflows.\n"
         "# TYPE zlh_controller_leader gauge\nzlh_controller_leader " +
         std::string(leadership->leader() ? "1" : "0") +
         "\n# HELP zlh_redis_up 1 while Redis answers (absent without --redis).\n"
         "# TYPE zlh_redis_up gauge\n" +
         (lock ? std::string("zlh_redis_up ") + (lock->redis_ok() ? "1" : "0") + "\n" : "") +
         notify::RenderMetrics(dispatcher->snapshot());
}

// Records a burst of bad billing webhook signatures (api::SignatureWatch) as this node's
// notification, in a write of its own outside the request that completed the burst, then wakes
// the dispatcher.
void Node::Parts::RecordSignatureBurst(int64_t first_ms, int count) {
  spdlog::warn("billing webhook: {} bad signatures since {}: alerting", count,
               FormatRfc3339(first_ms));
  fleet::Intent intent = api::SignatureBurstIntent(first_ms, count);
  asio::co_spawn(
      io,
      [this, intent = std::move(intent)]() -> Task<void> {
        Status s = co_await journal::AppendDurably(*journal, [intent](journal::Txn& t) -> Status {
          return fleet::EnqueueNotification(t, intent, NowMs()).status();
        });
        if (!s.ok()) {
          spdlog::error("bad signature alert not recorded: {}", s.ToString());
        } else {
          deps.notified();
        }
      },
      asio::detached);
}

// What systemd's STATUS= says: whether this node leads, and its unfinished workflows (running,
// waiting or queued here; none on a standby).
std::string Node::Parts::SupervisionStatus() const {
  return std::string(leadership->leader() ? "leader" : "standby") + ": " +
         std::to_string(engine->live_count()) + " workflows in flight";
}

// The config file as a start would read it now, pointed at the fleet this node runs on (which only
// a restart changes).
Result<config::Settings> Node::Parts::ReadConfigAgain() const {
  auto configured = flags.reconfigure();
  if (!configured.ok()) return configured.status();
  auto& [next, next_fleet] = *configured;
  if (next_fleet.kind != fleet.kind || next_fleet.url != fleet.url) {
    return InvalidArgument("config " + flags.config +
                           ": the fleet it runs on changed: that needs a restart");
  }
  if (!sim_url.empty()) config::PointAtFleet(next, sim_url);
  return std::move(next);
}

// SIGHUP: the config, the tokens and the certificate read again and applied whole, or refused
// (tools/zlhd_reload.h); one log line either way. systemd hears RELOADING=1, then READY=1.
void Node::Parts::Reload() {
  supervision->Reloading();
  ReloadTargets targets{[this] { return ReadConfigAgain(); },
                        flags.data + "/tokens",
                        settings,
                        *tokens,
                        tls.get(),
                        *outside,
                        *dispatcher};
  ReloadOutcome outcome = tools::Reload(targets);
  if (outcome.refused.ok()) {
    spdlog::info("{}", Describe(outcome));
  } else {
    spdlog::error("{}", Describe(outcome));
  }
  supervision->Reloaded();
}

// Waits for the next SIGHUP (until the drain starts).
void Node::Parts::AwaitReload() {
  reload_signal.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec || draining) return;
    Reload();
    AwaitReload();
  });
}

// Recovery (alone, or once this node holds the Redis lock), then the API, the watchdog and the
// dispatcher, and READY=1 to systemd. A failed recovery or lock stops the node with exit code 3.
Task<void> Node::Parts::Start() {
  if (!flags.redis) {
    Status recovered = co_await leadership->LeadAlone();
    if (!recovered.ok()) {
      spdlog::error("recovery failed: {}", recovered.ToString());
      exit_code = 3;
      io.stop();
      co_return;
    }
  } else {
    scheduler::RedisLockOptions lock_options;
    lock_options.owner = NodeId();
    lock_options.ttl = settings.lock_ttl;
    lock_options.renew = settings.lock_ttl / 3;
    co_await leadership->FollowLock(*flags.redis, lock_options, [this](const Status&) {
      exit_code = 3;
      io.stop();
    });
  }
  http->Start();
  watchdog->Start();
  dispatcher->Start();
  spdlog::info("zlhd ready (reconcile every {})", FormatDuration(settings.reconcile_interval));
  supervision->Ready();
}

// Stops taking work, lets in-flight requests, steps and deliveries finish, then stops the loop.
Task<void> Node::Parts::Drain() {
  draining = true;
  reload_signal.cancel();
  supervision->Stopping("draining: requests, workflows and notifications finish");
  leadership->Stop();
  watchdog->Stop();
  co_await http->Stop(Millis(10'000));
  co_await engine->Drain(Millis(10'000));
  co_await dispatcher->Stop(Millis(5'000));
  if (sim) co_await sim->Stop(Millis(1'000));
  io.stop();
}

Node::Opened Node::Open(const NodeFlags& flags, config::Settings settings, config::Fleet fleet) {
  auto parts = std::make_unique<Parts>(flags, std::move(settings), std::move(fleet));
  for (int (Parts::*stage)() : {&Parts::OpenStores, &Parts::OpenSimulatedFleet, &Parts::Assemble}) {
    if (int code = ((*parts).*stage)(); code != 0) return {nullptr, code};
  }
  return {std::unique_ptr<Node>(new Node(std::move(parts))), 0};
}

Node::Node(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Node::~Node() = default;

int Node::Run() {
  Parts& p = *parts_;
  auto port = p.http->Listen();
  if (!port.ok()) {
    spdlog::error("{}", port.status().message());
    return 2;
  }
  std::string addr = p.flags.host + ":" + std::to_string(*port);
  if (!WriteFileAtomically(p.flags.data + "/zlhd.addr", addr + "\n")) {
    spdlog::error("cannot write {}/zlhd.addr", p.flags.data);
    return 2;
  }
  spdlog::info("listening on {}://{}", p.tls ? "https" : "http", addr);
  p.supervision = std::make_unique<systemd::Supervision>(
      p.io.get_executor(), systemd::ServiceNotifier::FromEnvironment(),
      [&p] { return p.SupervisionStatus(); });
  p.stall_hook = InstallStallHook(p.io);
  p.AwaitReload();
  asio::co_spawn(p.io, p.Start(), asio::detached);

  asio::signal_set signals(p.io, SIGTERM, SIGINT);
  signals.async_wait([&p](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("{} received: draining", strsignal(signo));
    asio::co_spawn(p.io, p.Drain(), asio::detached);
  });

  p.io.run();
  p.leadership->ReleaseLock();  // its callbacks post to an io_context that no longer runs
  p.engine.reset();             // before the journal, which it unhooks itself from
  p.backups.reset();            // waits for a backup under way, which reads the journal
  p.journal.reset();  // commits what is queued; the io_context no longer runs its callbacks
  spdlog::info("zlhd stopped");
  return p.exit_code;
}

}  // namespace zlh::tools
