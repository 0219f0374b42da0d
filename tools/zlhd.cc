// zlhd: the zlh-flow daemon (SPEC §7.2). Loads the config, opens the journal, resumes every
// unfinished workflow, serves the HTTP API and runs the ZLH workflows against the outside world —
// the simulated fleet in-process by default, one zlh-sim with --fleet URL, or the services of the
// config file — until SIGTERM or SIGINT, when it stops accepting connections, lets in-flight
// requests and steps finish (progress is durable either way) and exits 0.
//
// Exit codes: 0 clean stop; 2 bad usage or configuration (an address it cannot listen on);
// 3 journal unusable (held by another process, newer format, corrupt).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unistd.h>

#include "api/api.h"
#include "api/billing_alerts.h"
#include "api/errors.h"
#include "api/http_server.h"
#include "api/tokens.h"
#include "base/clock.h"
#include "base/ids.h"
#include "config/config.h"
#include "config/fleet.h"
#include "controller/controller.h"
#include "controller/decision_log.h"
#include "controller/digest.h"
#include "controller/incidents.h"
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
#include "scheduler/redis_lock.h"
#include "sim/sim_server.h"
#include "tools/check_config.h"
#include "workflows/engine.h"
#include "workflows/registry.h"

namespace {

namespace asio = boost::asio;
using zlh::workflows::Task;

constexpr char kUsage[] =
    "usage: zlhd [--config FILE] [--data DIR] [--listen HOST:PORT] [--fleet sim|URL]\n"
    "            [--reconcile-interval DURATION] [--redis redis://HOST:PORT[/DB]]\n"
    "            [--log-format text|json]\n"
    "       zlhd --check-config [--config FILE] [--fleet sim|URL]\n"
    "\n"
    "Runs the zlh-flow engine: resumes every unfinished workflow of the journal in DIR, serves\n"
    "the HTTP API and runs the ZLH workflows until SIGTERM/SIGINT.\n"
    "\n"
    "  --config FILE       the JSON config (docs/config.md); default: built-in defaults and the\n"
    "                      simulated fleet. A file runs the real fleet: it must name every service\n"
    "                      (Proxmox, DNS, proxy, agent, billing) or the start is refused, unless\n"
    "                      --fleet says which simulated fleet to run it on\n"
    "  --check-config      check the config and probe every service it names, read-only; one\n"
    "                      line per check on stdout (ok/FAIL); exit 0 all passed, 1 a probe\n"
    "                      failed, 2 the file is bad. Starts nothing, writes nothing\n"
    "  --data DIR          the data directory (default ./zlh-data; created when absent): the\n"
    "                      journal, the tokens file, the simulated fleet's state\n"
    "  --listen HOST:PORT  the HTTP address (default 127.0.0.1:8080; port 0 picks a free one);\n"
    "                      the address listened on is written to DIR/zlhd.addr\n"
    "  --fleet sim|URL     sim: the simulated fleet in-process (the default without --config);\n"
    "                      URL: every service at one zlh-sim\n"
    "  --reconcile-interval DURATION\n"
    "                      how often the controller reconciles the fleet (default 60s; 500ms, 2s,\n"
    "                      1m...)\n"
    "  --redis URL         the controller lock on Redis (SPEC 6.4): this node runs workflows\n"
    "                      only while it holds it (standby otherwise: reads, 503 to starts);\n"
    "                      default none: holding the journal makes this node the one\n"
    "  --log-format F      text (default) or json: one JSON object per line on stderr\n"
    "  --help              this text\n"
    "\n"
    "API tokens: DIR/tokens (written at the first start, mode 0600: admin, portal, webhook).\n"
    "Exit codes: 0 clean stop; 2 bad usage or configuration; 3 journal unusable.\n";

struct Flags {
  std::string config;
  bool check_config = false;
  bool json_logs = false;
  std::optional<zlh::scheduler::RedisUrl> redis;
  zlh::Millis reconcile_interval{0};  // 0: the config's
  std::string fleet;  // "", "sim" or a URL
  std::string data = "zlh-data";
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
};

[[noreturn]] void UsageError(const std::string& message) {
  std::fprintf(stderr, "zlhd: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

// Parses argv; on a usage error prints it and exits 2, on --help prints usage and exits 0.
Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) UsageError(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--data") {
      flags.data = value();
    } else if (arg == "--config") {
      flags.config = value();
    } else if (arg == "--check-config") {
      flags.check_config = true;
    } else if (arg == "--log-format") {
      std::string f = value();
      if (f != "text" && f != "json") UsageError("--log-format: 'text' or 'json', not '" + f + "'");
      flags.json_logs = f == "json";
    } else if (arg == "--redis") {
      auto url = zlh::scheduler::ParseRedisUrl(value());
      if (!url.ok()) UsageError("--redis: " + url.status().message());
      flags.redis = *url;
    } else if (arg == "--reconcile-interval") {
      auto d = zlh::ParseDuration(value());
      if (!d.ok()) UsageError("--reconcile-interval: " + d.status().message());
      if (d->count() <= 0) UsageError("--reconcile-interval: must be longer than 0");
      flags.reconcile_interval = *d;
    } else if (arg == "--fleet") {
      flags.fleet = value();
      if (flags.fleet != "sim" && flags.fleet.rfind("http://", 0) != 0 &&
          flags.fleet.rfind("https://", 0) != 0) {
        UsageError("--fleet: 'sim' or an http:// URL, not '" + flags.fleet + "'");
      }
    } else if (arg == "--listen") {
      auto listen = zlh::api::ParseListenAddress(value());
      if (!listen.ok()) UsageError("--listen: " + listen.status().message());
      flags.host = listen->host;
      flags.port = listen->port;
    } else {
      UsageError("unknown argument '" + arg + "'");
    }
  }
  return flags;
}

// Writes `text` to `path` atomically (a temporary file renamed over it).
bool WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!(out << text)) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

// The log message escaped as a JSON string's content (--log-format json).
class JsonMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      switch (c) {
        case '"': dest.append(std::string_view("\\\"")); break;
        case '\\': dest.append(std::string_view("\\\\")); break;
        case '\n': dest.append(std::string_view("\\n")); break;
        case '\t': dest.append(std::string_view("\\t")); break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", c);
            dest.append(std::string_view(esc));
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessage>();
  }
};

// This node's value for the lock: unique across nodes and restarts.
std::string NodeId() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + zlh::NewId();
}

// The settings of the config (or the defaults) and the fleet they run on; kInvalidArgument naming
// the file and the field when the file is bad or, for a real fleet, not complete (SPEC §9.3).
zlh::Result<std::pair<zlh::config::Settings, zlh::config::Fleet>> Configure(const Flags& flags) {
  auto loaded = flags.config.empty() ? zlh::Result<zlh::config::Settings>(zlh::config::Defaults())
                                     : zlh::config::Load(flags.config);
  if (!loaded.ok()) return loaded.status();
  if (!loaded->business_hours.zone) {
    // Only the built-in default can get here: a configured zone is checked when parsed.
    return zlh::InvalidArgument(
        "businessHours: the time zone database is unavailable (install the tzdata package)");
  }
  if (flags.reconcile_interval.count() > 0) loaded->reconcile_interval = flags.reconcile_interval;
  auto fleet = zlh::config::ChooseFleet(flags.fleet, !flags.config.empty(), *loaded);
  if (!fleet.ok()) return fleet.status().WithContext("config " + flags.config);
  if (fleet->kind == zlh::config::FleetKind::kOneUrl) zlh::config::PointAtFleet(*loaded, fleet->url);
  return std::pair{std::move(*loaded), std::move(*fleet)};
}

// zlhd --check-config: the file, then every service it names, one line each on stdout. Exit 0
// when all passed, 1 when a probe failed, 2 when the file itself is bad. Writes nothing.
int CheckConfig(const Flags& flags) {
  std::string file = flags.config.empty() ? "the built-in defaults" : flags.config;
  auto configured = Configure(flags);
  if (!configured.ok()) {
    zlh::tools::Check bad{"config", false, configured.status().message()};
    std::printf("%s\n", zlh::tools::FormatCheck(bad).c_str());
    return 2;
  }
  auto& [settings, fleet] = *configured;
  if (fleet.kind == zlh::config::FleetKind::kSimulated) {
    std::printf("ok   config: %s: the simulated fleet, in-process (nothing to probe)\n", file.c_str());
    return 0;
  }
  std::printf("ok   config: %s%s\n", file.c_str(),
              fleet.kind == zlh::config::FleetKind::kOneUrl ? (": every service at " + fleet.url).c_str()
                                                          : "");
  std::fflush(stdout);
  bool all_ok = true;
  for (const zlh::tools::Check& check : zlh::tools::CheckServices(settings)) {
    std::printf("%s\n", zlh::tools::FormatCheck(check).c_str());
    all_ok &= check.ok;
  }
  return all_ok ? 0 : 1;
}

// The node's own gauges for /metrics: leadership, Redis, and the notification outbox.
std::string NodeMetrics(const zlh::scheduler::Leadership& leadership,
                        const zlh::notify::Dispatcher& dispatcher) {
  const zlh::scheduler::RedisLock* lock = leadership.lock();
  return "# HELP zlh_controller_leader 1 while this node holds the controller lock and runs workflows.\n"
         "# TYPE zlh_controller_leader gauge\nzlh_controller_leader " +
         std::string(leadership.leader() ? "1" : "0") +
         "\n# HELP zlh_redis_up 1 while Redis answers (absent without --redis).\n"
         "# TYPE zlh_redis_up gauge\n" +
         (lock ? std::string("zlh_redis_up ") + (lock->redis_ok() ? "1" : "0") + "\n" : "") +
         zlh::notify::RenderMetrics(dispatcher.snapshot());
}

// Records a burst of bad billing webhook signatures (api::SignatureWatch) as this node's
// notification, in a write of its own outside the request that completed the burst, then wakes
// the dispatcher.
void RecordSignatureBurst(asio::io_context& io, zlh::journal::Journal& journal,
                          std::function<void()> notified, int64_t first_ms, int count) {
  spdlog::warn("billing webhook: {} bad signatures since {}: alerting", count,
               zlh::FormatRfc3339(first_ms));
  zlh::fleet::Intent intent = zlh::api::SignatureBurstIntent(first_ms, count);
  asio::co_spawn(
      io,
      [&journal, notified = std::move(notified), intent = std::move(intent)]() -> Task<void> {
        zlh::Status s = co_await zlh::journal::AppendDurably(
            journal, [intent](zlh::journal::Txn& t) -> zlh::Status {
              return zlh::fleet::EnqueueNotification(t, intent, zlh::NowMs()).status();
            });
        if (!s.ok()) {
          spdlog::error("bad signature alert not recorded: {}", s.ToString());
        } else if (notified) {
          notified();
        }
      },
      asio::detached);
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags = ParseFlags(argc, argv);
  if (flags.check_config) return CheckConfig(flags);
  // Logs go to stderr, one line per event; stdout stays free for what a caller may parse.
  spdlog::set_default_logger(spdlog::stderr_color_mt("zlhd"));
  if (flags.json_logs) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonMessage>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%*"})");
    spdlog::set_formatter(std::move(formatter));
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }

  auto configured = Configure(flags);
  if (!configured.ok()) {
    spdlog::error("{}", configured.status().message());
    return 2;
  }
  zlh::config::Settings settings = std::move(configured->first);
  const zlh::config::Fleet fleet = configured->second;
  std::error_code mkdir_error;
  std::filesystem::create_directories(flags.data, mkdir_error);
  if (mkdir_error) {
    spdlog::error("cannot create the data directory {}: {}", flags.data, mkdir_error.message());
    return 2;
  }

  std::string journal_dir = flags.data + "/journal";
  zlh::journal::Journal::Opened opened = zlh::journal::Journal::TryOpen(journal_dir);
  if (!opened.journal) {
    spdlog::error("cannot open the journal ({}): {}; {}", OpenErrorName(opened.error),
                  opened.status.message(), OpenErrorHint(opened.error));
    return 3;
  }
  zlh::Result<std::unique_ptr<zlh::journal::Journal>> journal = std::move(opened.journal);
  spdlog::info("journal {} open (open #{})", journal_dir, (*journal)->open_count());

  bool tokens_created = false;
  std::string tokens_path = flags.data + "/tokens";
  auto tokens = zlh::api::Tokens::LoadOrCreate(tokens_path, &tokens_created);
  if (!tokens.ok()) {
    spdlog::error("{}", tokens.status().message());
    return 2;
  }
  if (tokens_created) spdlog::info("API tokens written to {} (mode 0600)", tokens_path);
  if (tokens->webhook_generated()) {
    spdlog::info("{} had no webhook line: a billing webhook secret was generated and appended",
                 tokens_path);
  }

  asio::io_context io(1);
  std::unique_ptr<zlh::sim::SimServer> sim;
  if (fleet.kind == zlh::config::FleetKind::kSimulated) {
    auto sim_opened = zlh::sim::SimServer::Open(io, "127.0.0.1", 0, flags.data + "/sim-state.json",
                                                {"pve1", "pve2"});
    if (!sim_opened.ok()) {
      spdlog::error("simulated fleet: {}", sim_opened.status().ToString());
      return 2;
    }
    sim = std::move(*sim_opened);
    auto url = sim->Start();
    if (!url.ok()) {
      spdlog::error("simulated fleet: {}", url.status().message());
      return 2;
    }
    spdlog::info("simulated fleet in-process at {} (state in {}/sim-state.json)", *url, flags.data);
    zlh::config::PointAtFleet(settings, *url);
  } else if (fleet.kind == zlh::config::FleetKind::kOneUrl) {
    spdlog::info("fleet: every service at {}", fleet.url);
  } else {
    spdlog::info("fleet: the services of {}", flags.config);
  }

  zlh::flows::Outside outside(settings);
  zlh::flows::Deps deps = outside.MakeDeps();
  deps.journal = journal->get();
  zlh::workflows::Registry registry;
  if (zlh::Status s = zlh::flows::Register(registry, deps); !s.ok()) {
    spdlog::error("{}", s.ToString());
    return 2;
  }
  zlh::controller::DecisionLog decisions;
  auto fencing = flags.redis ? zlh::fleet::FencingSource::kRedis : zlh::fleet::FencingSource::kJournal;
  if (zlh::Status s = zlh::controller::Register(registry, deps, &decisions, fencing); !s.ok()) {
    spdlog::error("{}", s.ToString());
    return 2;
  }
  std::map<std::string, uint32_t> limits;
  for (const char* q : {"provision", "operation", "repair", "control"}) {
    limits[q] = settings.QueueLimit(q);
  }
  zlh::scheduler::Queues queues(limits);
  // The node lock (SPEC 6.4). With Redis this node runs workflows only while it holds the lock,
  // and the lock's fencing token goes out with every mutating call; without, holding the journal
  // is the lock and the token is the journal's open count.
  zlh::scheduler::Leadership leadership(io, (*journal)->open_count());
  zlh::workflows::EngineOptions engine_options;
  engine_options.admission = &queues;
  engine_options.fencing_token = [&leadership] { return leadership.fencing_token(); };
  engine_options.may_act = [&leadership] { return leadership.may_act(); };
  auto engine = std::make_unique<zlh::workflows::Engine>(io, **journal, registry, engine_options);
  queues.Attach(*engine);
  deps.engine = engine.get();
  zlh::scheduler::Cron reconcile_cron(*engine, settings.reconcile_interval,
                                      zlh::controller::ReconcileStart);
  // The daily digest at its local time (SPEC 5.5), unless configured off.
  std::optional<zlh::scheduler::Cron> digest_cron;
  if (settings.digest_minute) {
    zlh::calendar::Daily daily{settings.business_hours.zone, *settings.digest_minute};
    digest_cron.emplace(*engine,
                        zlh::scheduler::Schedule{[daily](int64_t now) { return daily.PeriodAt(now); },
                                                 [daily](int64_t day) { return daily.StartOf(day); }},
                        zlh::controller::DigestStart);
  }
  // The controller's crons run on the node that leads, only.
  std::vector<zlh::scheduler::Cron*> crons{&reconcile_cron};
  if (digest_cron) crons.push_back(&*digest_cron);
  leadership.Attach(*engine, crons);
  zlh::journal::Journal& j = **journal;
  // The notification outbox's delivery (SPEC §10): workflow entries only while this node leads.
  zlh::notify::Dispatcher dispatcher(
      io.get_executor(), j, outside.notifications(), outside.mailer(),
      zlh::notify::OptionsOf(settings, [&leadership] { return leadership.leader(); }));
  // What the workflows, the watchdog and the billing webhook record in the outbox goes out at once
  // (Wake posts to the dispatcher's executor, so any thread may call it).
  deps.notified = [&dispatcher] { dispatcher.Wake(); };
  zlh::controller::Watchdog watchdog(io.get_executor(), settings.reconcile_interval, decisions, j,
                                     deps.notified, [&] { return leadership.OtherLeads(); });
  zlh::api::ApiDeps api_deps{*engine, j, settings, *tokens, &queues};
  api_deps.hypervisor = deps.hypervisor;
  api_deps.notified = deps.notified;
  api_deps.on_signature_burst = [&io, &j, notified = deps.notified](int64_t first_ms, int count) {
    RecordSignatureBurst(io, j, notified, first_ms, count);
  };
  api_deps.backup_root =
      settings.file.backup().dir().empty() ? flags.data + "/backups" : settings.file.backup().dir();
  api_deps.controller = [&]() -> boost::json::object {
    const zlh::scheduler::RedisLock* lock = leadership.lock();
    int64_t tick_ms = decisions.last_tick_ms();
    auto breakers = zlh::controller::BreakersJson(j, zlh::NowMs());
    if (!breakers.ok()) spdlog::warn("GET /api/controller: {}", breakers.status().ToString());
    return boost::json::object{
        {"leader", leadership.leader()},
        {"fencingToken", leadership.fencing_token()},
        {"lockTtlMs", lock ? lock->ttl().count() : 0},
        {"lastTickAt", tick_ms ? boost::json::value(zlh::FormatRfc3339(tick_ms))
                               : boost::json::value(nullptr)},
        {"actingSince", leadership.leader() ? boost::json::value(zlh::FormatRfc3339(leadership.since_ms()))
                                          : boost::json::value(nullptr)},
        {"waitingUntil", leadership.waiting_until_ms()
                             ? boost::json::value(zlh::FormatRfc3339(leadership.waiting_until_ms()))
                             : boost::json::value(nullptr)},
        {"redis", !lock ? "off" : lock->redis_ok() ? "ok" : "unreachable"},
        {"breakers", breakers.ok() ? std::move(*breakers) : boost::json::array()},
        {"lastDecisions", decisions.Json()}};
  };
  api_deps.metrics = [&] { return NodeMetrics(leadership, dispatcher); };
  api_deps.outbox = [&dispatcher] {
    zlh::notify::Snapshot s = dispatcher.snapshot();
    return zlh::api::OutboxView{s.pending, s.oldest_ms, s.failing};
  };
  zlh::api::Api api(api_deps);

  zlh::api::ServerOptions http_options;
  http_options.host = flags.host;
  http_options.port = flags.port;
  http_options.error_response = zlh::api::TransportError;
  http_options.refuse_before_size = [&api](const zlh::api::Request& headers) {
    return api.RefuseBeforeSize(headers);
  };
  zlh::api::HttpServer http(io, http_options, [&api](const zlh::api::Request& req) {
    return api.Handle(req);
  });
  auto port = http.Listen();
  if (!port.ok()) {
    spdlog::error("{}", port.status().message());
    return 2;
  }
  std::string addr = flags.host + ":" + std::to_string(*port);
  if (!WriteFileAtomically(flags.data + "/zlhd.addr", addr + "\n")) {
    spdlog::error("cannot write {}/zlhd.addr", flags.data);
    return 2;
  }
  spdlog::info("listening on http://{}", addr);

  int exit_code = 0;
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        if (!flags.redis) {
          zlh::Status recovered = co_await leadership.LeadAlone();
          if (!recovered.ok()) {
            spdlog::error("recovery failed: {}", recovered.ToString());
            exit_code = 3;
            io.stop();
            co_return;
          }
          http.Start();
        } else {
          zlh::scheduler::RedisLockOptions lock_options;
          lock_options.owner = NodeId();
          lock_options.ttl = settings.lock_ttl;
          lock_options.renew = settings.lock_ttl / 3;
          co_await leadership.FollowLock(*flags.redis, lock_options, [&](const zlh::Status&) {
            exit_code = 3;
            io.stop();
          });
          http.Start();
        }
        watchdog.Start();
        dispatcher.Start();
        spdlog::info("zlhd ready (reconcile every {})", zlh::FormatDuration(settings.reconcile_interval));
      },
      asio::detached);

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("{} received: draining", strsignal(signo));
    asio::co_spawn(
        io,
        [&]() -> Task<void> {
          leadership.Stop();
          watchdog.Stop();
          co_await http.Stop(zlh::Millis(10'000));
          co_await engine->Drain(zlh::Millis(10'000));
          co_await dispatcher.Stop(zlh::Millis(5'000));
          if (sim) co_await sim->Stop(zlh::Millis(1'000));
          io.stop();
        },
        asio::detached);
  });

  io.run();
  leadership.ReleaseLock();  // its callbacks post to an io_context that no longer runs
  engine.reset();    // before the journal, which it unhooks itself from
  journal->reset();  // commits what is queued; the io_context no longer runs its callbacks
  spdlog::info("zlhd stopped");
  return exit_code;
}
