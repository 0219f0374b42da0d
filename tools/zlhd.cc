// zlhd: the zlh-flow daemon (SPEC §7.2). Loads the config, opens the journal, resumes every
// unfinished workflow, serves the HTTP API and runs the ZLH workflows against the outside world —
// the simulated fleet in-process by default, one zlh-sim with --fleet URL, or the services of the
// config file — until SIGTERM or SIGINT, when it stops accepting connections, lets in-flight
// requests and steps finish (progress is durable either way) and exits 0. SIGHUP reloads the
// tokens, the notification routes, business hours and the certificate (tools/zlhd_reload.h).
//
// Exit codes: 0 clean stop; 2 bad usage or configuration (an address it cannot listen on);
// 3 journal unusable (held by another process, an older format not migrated — zlhd --migrate
// migrates it and exits — a newer format, corrupt). Under systemd it is a
// Type=notify service (docs/systemd.md) and may log to journald with fields.
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "api/http_server.h"
#include "base/duration.h"
#include "config/config.h"
#include "config/fleet.h"
#include "scheduler/redis_lock.h"
#include "systemd/journal_sink.h"
#include "journal/journal.h"
#include "journal/migrate.h"
#include "tools/check_config.h"
#include "tools/zlhd_test_hooks.h"
#include "tools/zlhd_node.h"

namespace {

constexpr char kUsage[] =
    "usage: zlhd [--config FILE] [--data DIR] [--listen HOST:PORT] [--fleet sim|URL]\n"
    "            [--reconcile-interval DURATION]\n"
    "            [--redis redis://[USER[:PASSWORD]@]HOST:PORT[/DB]]\n"
    "            [--log-format text|json|journald]\n"
    "       zlhd --check-config [--config FILE] [--fleet sim|URL]\n"
    "       zlhd --migrate [--data DIR]\n"
    "\n"
    "Runs the zlh-flow engine: resumes every unfinished workflow of the journal in DIR, serves\n"
    "the HTTP API and runs the ZLH workflows until SIGTERM/SIGINT. SIGHUP reloads, without a\n"
    "restart, DIR/tokens, the config's discord and email sections, businessHours and api.tls's\n"
    "certificate; a bad file refuses the whole reload (logged) and the running ones stay; other\n"
    "changed fields are logged and need a restart (docs/config.md, Reload).\n"
    "\n"
    "  --config FILE       the JSON config (docs/config.md); default: built-in defaults and the\n"
    "                      simulated fleet. A file runs the real fleet: it must name every service\n"
    "                      (Proxmox, DNS, proxy, agent, billing) or the start is refused, unless\n"
    "                      --fleet says which simulated fleet to run it on\n"
    "  --check-config      check the config and probe every service it names, read-only; one\n"
    "                      line per check on stdout (ok/FAIL); exit 0 all passed, 1 a probe\n"
    "                      failed, 2 the file is bad. Starts nothing, writes nothing\n"
    "  --migrate           migrate the journal in DIR from an older release's format to this\n"
    "                      build's, step by step (each one atomic), then exit: 0 migrated or\n"
    "                      current already, 2 no journal, 3 unusable (held: stop zlhd first;\n"
    "                      newer; corrupt; a step failed, the journal stays at the last format\n"
    "                      reached). Without it, zlhd refuses an older journal (exit 3). Back\n"
    "                      the data directory up first (docs/operations.md, Upgrade)\n"
    "  --data DIR          the data directory (default ./zlh-data; created when absent): the\n"
    "                      journal, the tokens file, the simulated fleet's state\n"
    "  --listen HOST:PORT  the API's address (default 127.0.0.1:8080; port 0 picks a free one);\n"
    "                      HTTPS only when the config sets api.tls. The address listened on is\n"
    "                      written to DIR/zlhd.addr\n"
    "  --fleet sim|URL     sim: the simulated fleet in-process (the default without --config);\n"
    "                      URL: every service at one zlh-sim\n"
    "  --reconcile-interval DURATION\n"
    "                      how often the controller reconciles the fleet (default 60s; 500ms, 2s,\n"
    "                      1m...)\n"
    "  --redis URL         the controller lock on Redis (SPEC 6.4): this node runs workflows\n"
    "                      only while it holds it (standby otherwise: reads, 503 to starts);\n"
    "                      default none: holding the journal makes this node the one. AUTH\n"
    "                      with the URL's user and password, or the config's redis.passwordFile\n"
    "  --log-format F      text (default): one line per event on stderr; json: one JSON\n"
    "                      object per line on stderr; journald: each record to journald's\n"
    "                      native socket with PRIORITY, SYSLOG_IDENTIFIER=zlhd and, for a\n"
    "                      workflow's lines, WORKFLOW_ID, WORKFLOW_TYPE, SERVER_ID; text lines on\n"
    "                      stderr instead when that socket is absent (a warning says so)\n"
    "  --help              this text\n"
    "\n"
    "API tokens: DIR/tokens (written at the first start, mode 0600): lines \"ROLE SECRET\";\n"
    "admin and portal at most twice each (the new and the old token while rotating), webhook\n"
    "once.\n"
    "Under systemd (Type=notify, dist/systemd/zlhd.service, docs/systemd.md): READY=1 once\n"
    "recovered and serving, STATUS= (leader or standby, workflows in flight), WATCHDOG=1\n"
    "from the event loop every half of WATCHDOG_USEC, RELOADING=1 then READY=1 around a\n"
    "reload, STOPPING=1 when draining; none without NOTIFY_SOCKET.\n"
    "Exit codes: 0 clean stop; 2 bad usage or configuration; 3 journal unusable (held by\n"
    "another process, an older format not migrated, a newer format, corrupt).\n"
    "Test hooks, for tests only (never on a real node): ZLHD_TEST_STALL_ON_SIGUSR2=N makes\n"
    "SIGUSR2 block the event loop for N seconds; ZLHD_TEST_JOURNAL_SOCKET=PATH sends the\n"
    "journald records to PATH instead of /run/systemd/journal/socket; ZLHD_TEST_NEXT_FORMAT=1\n"
    "makes the journal's format a test-only one newer than this build's.\n";

enum class LogFormat { kText, kJson, kJournald };

struct Flags {
  std::string config;
  bool check_config = false;
  bool migrate = false;
  LogFormat log_format = LogFormat::kText;
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
    } else if (arg == "--migrate") {
      flags.migrate = true;
    } else if (arg == "--log-format") {
      std::string f = value();
      if (f != "text" && f != "json" && f != "journald") {
        UsageError("--log-format: 'text', 'json' or 'journald', not '" + f + "'");
      }
      flags.log_format = f == "json"       ? LogFormat::kJson
                         : f == "journald" ? LogFormat::kJournald
                                           : LogFormat::kText;
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

// The --redis URL's password and redis.passwordFile's: one of them, or none (a user needs one).
zlh::Status CheckRedisCredentials(const std::optional<zlh::scheduler::RedisUrl>& redis,
                                  const zlh::config::Settings& settings) {
  if (!redis) return zlh::Status::Ok();
  if (!redis->password.empty() && !settings.redis_password.empty()) {
    return zlh::InvalidArgument(
        "--redis: the URL holds a password and redis.passwordFile another: give one of them");
  }
  if (!redis->user.empty() && redis->password.empty() && settings.redis_password.empty()) {
    return zlh::InvalidArgument("--redis: the user '" + redis->user +
                                "' needs a password (in the URL or redis.passwordFile)");
  }
  return zlh::Status::Ok();
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
  if (zlh::Status s = CheckRedisCredentials(flags.redis, *loaded); !s.ok()) return s;
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

// zlhd --migrate: brings the journal of DIR to this build's format (journal/migrate.h), saying on
// stdout what each step did, then exits. The daemon itself never migrates: an older journal is
// refused (exit 3) until an operator, having backed it up, runs this.
int Migrate(const Flags& flags) {
  std::string dir = flags.data + "/journal";
  zlh::journal::Options options;
  options.create_if_missing = false;
  options.migrate = true;
  options.format = zlh::tools::JournalFormatUnderTest();
  uint32_t version = (options.format ? *options.format : zlh::journal::BuildFormat()).version;
  zlh::journal::Journal::Opened opened = zlh::journal::Journal::TryOpen(dir, options);
  if (!opened.journal) {
    spdlog::error("cannot migrate the journal ({}): {}; {}",
                  zlh::journal::OpenErrorName(opened.error), opened.status.message(),
                  opened.error == zlh::journal::OpenError::kOlderFormat
                      ? "restore the backup or fix the cause, then run zlhd --migrate again"
                      : zlh::journal::OpenErrorHint(opened.error));
    return opened.error == zlh::journal::OpenError::kNoJournal ? 2 : 3;
  }
  if (opened.migrated.empty()) {
    std::printf("the journal at %s has this build's format (%u) already: nothing to migrate\n",
                dir.c_str(), version);
    return 0;
  }
  for (const std::string& step : opened.migrated) std::printf("migrated: %s\n", step.c_str());
  std::printf("the journal at %s now has format %u; start zlhd as usual\n", dir.c_str(), version);
  return 0;
}

// Logs go to stderr, one line per event (stdout stays free for what a caller may parse), or to
// journald when it is asked for and there.
void SetUpLogging(LogFormat format) {
  if (format == LogFormat::kJournald) {
    const char* test_socket = std::getenv("ZLHD_TEST_JOURNAL_SOCKET");
    auto journal = zlh::systemd::JournalSink::Open(
        "zlhd", test_socket ? test_socket : zlh::systemd::kJournalSocket);
    spdlog::set_default_logger(journal.ok() ? std::make_shared<spdlog::logger>("zlhd", *journal)
                                            : spdlog::stderr_color_mt("zlhd"));
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");  // the fallback's lines
    if (!journal.ok()) {
      spdlog::warn("--log-format journald: {}: logging to stderr instead",
                   journal.status().message());
    }
    return;
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("zlhd"));
  if (format == LogFormat::kJson) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonMessage>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%*"})");
    spdlog::set_formatter(std::move(formatter));
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags = ParseFlags(argc, argv);
  if (flags.check_config) return CheckConfig(flags);
  SetUpLogging(flags.log_format);
  if (flags.migrate) return Migrate(flags);

  auto configured = Configure(flags);
  if (!configured.ok()) {
    spdlog::error("{}", configured.status().message());
    return 2;
  }
  zlh::tools::NodeFlags node_flags{flags.config, flags.data, flags.host, flags.port, flags.redis,
                                   [flags] { return Configure(flags); }};
  if (node_flags.redis && node_flags.redis->password.empty()) {
    node_flags.redis->password = configured->first.redis_password;
  }
  auto opened = zlh::tools::Node::Open(node_flags, std::move(configured->first),
                                       std::move(configured->second));
  if (!opened.node) return opened.exit_code;
  return opened.node->Run();
}
