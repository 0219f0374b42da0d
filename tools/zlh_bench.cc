// zlh-bench: measures the engine with full durability and prints one summary line per run.
//
//   zlh-bench wf5 --workflows N --concurrency C [--data DIR] [--sequential]
//   zlh-bench fsync-baseline [--data DIR] [--writes N]
//   zlh-bench recovery [--workflows N] [--data DIR]
//   zlh-bench provision [--servers N] [--concurrency C] [--data DIR]
//   zlh-bench reconcile [--servers N] [--latency-ms L] [--concurrency C] [--data DIR]
//
// Every figure line ends with the fsync baseline measured in the same run (SPEC §14).
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "journal/baseline.h"
#include "journal/format.h"
#include "journal/journal.h"
#include "scheduler/queues.h"
#include "tools/bench_baseline.h"
#include "tools/bench_driver.h"
#include "tools/bench_provision.h"
#include "tools/bench_reconcile.h"
#include "tools/bench_stats.h"
#include "workflows/engine.h"

namespace {

namespace asio = boost::asio;
using namespace zlh;
using bench::Drive;
using bench::DriveResult;
using workflows::Context;
using workflows::Task;
using Clock = std::chrono::steady_clock;

constexpr char kUsage[] =
    "usage:\n"
    "  zlh-bench wf5 [--workflows N] [--concurrency C] [--sequential] [--data DIR]\n"
    "      N workflows of 5 sequential trivial steps (64-byte results), C in flight\n"
    "      (--sequential: one at a time), fully durable. Defaults: N=20000, C=64.\n"
    "  zlh-bench fsync-baseline [--writes N] [--data DIR]\n"
    "      a plain loop of N synced single-Put RocksDB writes (default 5000): the reference.\n"
    "  zlh-bench recovery [--workflows N] [--data DIR]\n"
    "      N workflows asleep in a durable timer (half of them due during the downtime), the\n"
    "      process killed with SIGKILL, the engine restarted: time to resume all and fire the\n"
    "      overdue ones. Default N=100000.\n"
    "  zlh-bench provision [--servers N] [--concurrency C] [--data DIR]\n"
    "      N provisionings (C at a time) against the simulated world in-process, no injected\n"
    "      latency: the engine's own cost per provisioning. Defaults: N=500, C=8.\n"
    "  zlh-bench reconcile [--servers N] [--latency-ms L] [--concurrency C] [--data DIR]\n"
    "      one reconcile tick over N healthy servers of the simulated world in-process, every\n"
    "      answer held L ms, C probes in flight. Defaults: N=10000, L=0, C=32.\n"
    "Without --data a scratch directory under the current directory (on disk: $TMPDIR may be a\n"
    "tmpfs) is used, named on stderr, and removed.\n"
    "Every figure line ends with the fsync baseline measured first on the same disk, in the same\n"
    "run (fsync_writes_per_s, fsync_p50_ms; --baseline-writes N, default 2000): SPEC 14 states\n"
    "the targets as ratios to it. wf5 adds x_fsync (durable steps/s over baseline writes/s),\n"
    "p50_x_fsync (p50 over the baseline's) and cpu_us_per_wf (the whole process's CPU time\n"
    "over the run, every thread, per workflow).\n";

[[noreturn]] void Usage(const std::string& error) {
  if (!error.empty()) std::fprintf(stderr, "zlh-bench: %s\n", error.c_str());
  std::fputs(kUsage, error.empty() ? stdout : stderr);
  std::exit(error.empty() ? 0 : 2);
}

struct Args {
  std::string verb;
  std::map<std::string, std::string> values;
  bool sequential = false;

  long Int(const std::string& name, long fallback) const {
    auto it = values.find(name);
    if (it == values.end()) return fallback;
    char* end = nullptr;
    long v = std::strtol(it->second.c_str(), &end, 10);
    if (*end != '\0' || v <= 0) Usage("--" + name + " needs a positive integer");
    return v;
  }
};

Args Parse(int argc, char** argv) {
  if (argc < 2) Usage("a verb is required");
  Args args;
  args.verb = argv[1];
  if (args.verb == "--help" || args.verb == "-h") Usage("");
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") Usage("");
    if (a == "--sequential") {
      args.sequential = true;
    } else if (a == "--workflows" || a == "--concurrency" || a == "--data" || a == "--writes" ||
               a == "--servers" || a == "--latency-ms" || a == "--baseline-writes") {
      if (i + 1 >= argc) Usage(a + " needs a value");
      args.values[a.substr(2)] = argv[++i];
    } else {
      Usage("unknown argument '" + a + "'");
    }
  }
  return args;
}

// A scratch data directory under the current directory, removed at exit. Not under $TMPDIR: that
// may be a tmpfs, whose fsync costs nothing and would flatter every durable number.
class ScratchDir {
 public:
  ScratchDir() {
    std::error_code ec;
    std::string tmpl = (std::filesystem::current_path(ec) / "zlh-bench-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      std::fprintf(stderr, "zlh-bench: cannot make %s: %s\n", tmpl.c_str(), std::strerror(errno));
      std::exit(3);
    }
    path_ = tmpl;
    std::fprintf(stderr, "zlh-bench: data in %s (removed at exit; --data DIR keeps it)\n",
                 path_.c_str());
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The data directory: --data, or a scratch one owned by the returned ScratchDir.
std::string DataDir(const Args& args, std::unique_ptr<ScratchDir>& tmp) {
  auto it = args.values.find("data");
  if (it != args.values.end()) return it->second;
  tmp = std::make_unique<ScratchDir>();
  return tmp->Sub("journal");
}

// The fsync baseline beside `dir`, measured now; exits when it cannot be.
bench::Baseline BaselineOrExit(const Args& args, const std::string& dir) {
  auto baseline = bench::MeasureBaseline(dir, args.Int("baseline-writes", 2000));
  if (!baseline.ok()) {
    std::fprintf(stderr, "zlh-bench: fsync baseline: %s\n", baseline.status().ToString().c_str());
    std::exit(3);
  }
  return *baseline;
}

std::unique_ptr<journal::Journal> OpenJournal(const std::string& dir) {
  auto j = journal::Journal::Open(dir);
  if (!j.ok()) {
    std::fprintf(stderr, "zlh-bench: %s\n", j.status().ToString().c_str());
    std::exit(3);
  }
  return std::move(j).value();
}

int Wf5(const Args& args) {
  long n = args.Int("workflows", 20000);
  long c = args.sequential ? 1 : args.Int("concurrency", 64);
  std::unique_ptr<ScratchDir> tmp;
  std::string dir = DataDir(args, tmp);
  bench::Baseline baseline = BaselineOrExit(args, dir);
  auto journal = OpenJournal(dir);

  workflows::Registry registry;
  (void)registry.Register("wf5", "bench", [](Context& ctx) -> Task<Result<std::string>> {
    std::string last;
    for (const char* name : {"one", "two", "three", "four", "five"}) {
      auto r = co_await ctx.Step(name, [](const workflows::StepInfo& info)
                                           -> Task<Result<std::string>> {
        std::string v = info.idempotency_key;
        v.resize(64, '.');
        co_return v;
      });
      if (!r.ok()) co_return r.status();
      last = std::move(*r);
    }
    co_return last;
  });
  scheduler::Queues queues({{"bench", static_cast<uint32_t>(c)}});
  workflows::EngineOptions options;
  options.admission = &queues;
  asio::io_context io(1);
  workflows::Engine engine(io, *journal, registry, options);
  queues.Attach(engine);

  double cpu0 = bench::ProcessCpuSeconds();
  DriveResult run = Drive(io, engine, n, c, [](long) {
    workflows::StartRequest request;
    request.type = "wf5";
    return request;
  });
  double cpu_us_per_wf = (bench::ProcessCpuSeconds() - cpu0) * 1e6 / static_cast<double>(n);
  if (run.failures > 0) {
    std::fprintf(stderr, "zlh-bench: %ld workflows did not complete\n", run.failures);
    return 1;
  }
  double wf_per_s = static_cast<double>(n) / run.seconds;
  journal::WriterStats ws = journal->writer_stats();
  std::fprintf(stderr, "journal: %lu synced writes, %.1f appends per write\n",
               static_cast<unsigned long>(ws.groups),
               static_cast<double>(ws.appends) / static_cast<double>(std::max<uint64_t>(ws.groups, 1)));
  double p50 = bench::Percentile(run.latencies_ms, 50);
  std::printf(
      "engine=zlh-flow wf_per_s=%.0f steps_per_s=%.0f p50_ms=%.3f p99_ms=%.3f cpu_us_per_wf=%.1f "
      "rss_mb=%.0f durability=fsync%s x_fsync=%.1f p50_x_fsync=%.2f\n",
      wf_per_s, wf_per_s * 5, p50, bench::Percentile(run.latencies_ms, 99), cpu_us_per_wf,
      bench::PeakRssMb(), bench::BaselineFields(baseline).c_str(),
      wf_per_s * 5 / baseline.writes_per_s, p50 / baseline.p50_ms);
  return 0;
}

int FsyncBaseline(const Args& args) {
  std::unique_ptr<ScratchDir> tmp;
  std::string dir = DataDir(args, tmp);
  long writes = args.Int("writes", 5000);
  auto t0 = Clock::now();
  auto latencies = journal::MeasureSyncedPuts(dir, static_cast<size_t>(writes));
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!latencies.ok()) {
    std::fprintf(stderr, "zlh-bench: %s\n", latencies.status().ToString().c_str());
    return 1;
  }
  std::printf("engine=rocksdb-put writes_per_s=%.0f p50_ms=%.3f p99_ms=%.3f\n",
              static_cast<double>(writes) / secs, bench::Percentile(*latencies, 50),
              bench::Percentile(*latencies, 99));
  return 0;
}

// ---- recovery ----

constexpr int64_t kShortSleepMs = 8000;  // outlasts the start phase, due during the downtime
constexpr int64_t kLongSleepMs = 3'600'000;    // still asleep after the restart

struct SleeperCounters {
  long entered = 0;        // workflow code entered (started or resumed)
  long short_entered = 0;  // ... of the short sleepers
  long short_woken = 0;    // short sleeps that fired
};

void RegisterSleeper(workflows::Registry& registry, SleeperCounters& counters) {
  (void)registry.Register("sleeper", "sleepers", [&counters](Context& ctx) -> Task<Result<std::string>> {
    ++counters.entered;
    int64_t ms = std::stoll(ctx.input());
    if (ms == kShortSleepMs) ++counters.short_entered;
    ZLH_CO_RETURN_IF_ERROR(co_await ctx.Sleep(Millis(ms)));
    if (ms == kShortSleepMs) ++counters.short_woken;
    co_return "";
  });
}

long CountStatus(journal::Journal& j, int status) {
  long count = 0;
  (void)j.Scan(journal::Cf::kIndex, journal::StatusIndexPrefix(status),
               [&](std::string_view, std::string_view) {
                 ++count;
                 return true;
               });
  return count;
}

// The child: starts `n` sleepers (64 starts in flight), says "ready" on stdout once every one is
// durably asleep (or already woke: the short ones started first may), and waits to be killed.
int RecoveryChild(const Args& args) {
  long n = args.Int("workflows", 100000);
  auto journal = OpenJournal(args.values.at("data"));
  workflows::Registry registry;
  SleeperCounters counters;
  RegisterSleeper(registry, counters);
  asio::io_context io(1);
  workflows::Engine engine(io, *journal, registry);  // no queue limit: all asleep at once
  long next = 0, starters = 64;
  for (long w = 0; w < 64; ++w) {
    asio::co_spawn(
        io,
        [&]() -> Task<void> {
          while (next < n) {
            long i = next++;
            workflows::StartRequest request{
                "sleeper", std::to_string(i % 2 ? kShortSleepMs : kLongSleepMs), ""};
            auto s = co_await engine.Start(std::move(request));
            if (!s.ok()) {
              std::fprintf(stderr, "start: %s\n", s.status().ToString().c_str());
              std::exit(1);
            }
          }
          if (--starters > 0) co_return;
          asio::steady_timer poll(io);
          while (CountStatus(*journal, proto::WAITING) + CountStatus(*journal, proto::COMPLETED) <
                 n) {
            poll.expires_after(std::chrono::milliseconds(100));
            co_await poll.async_wait(asio::use_awaitable);
          }
          std::printf("ready\n");
          std::fflush(stdout);
        },
        asio::detached);
  }
  io.run();
  return 0;
}

int Recovery(const Args& args, const char* self) {
  long n = args.Int("workflows", 100000);
  std::unique_ptr<ScratchDir> tmp;
  std::string dir = DataDir(args, tmp);
  bench::Baseline baseline = BaselineOrExit(args, dir);
  int out[2];
  if (pipe(out) != 0) return 1;
  pid_t child = fork();
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the parent
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    std::string count = std::to_string(n);
    execl(self, self, "recovery-child", "--data", dir.c_str(), "--workflows", count.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  char buf[16] = {};
  ssize_t got = read(out[0], buf, sizeof buf - 1);
  if (got <= 0 || std::string(buf).rfind("ready", 0) != 0) {
    std::fprintf(stderr, "zlh-bench: the recovery child failed\n");
    return 1;
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(out[0]);
  // Let the short timers come due while the process is down.
  std::this_thread::sleep_for(std::chrono::milliseconds(kShortSleepMs));

  auto journal = OpenJournal(dir);
  long pending = CountStatus(*journal, proto::WAITING);
  auto t0 = Clock::now();
  workflows::Registry registry;
  SleeperCounters counters;
  RegisterSleeper(registry, counters);
  asio::io_context io(1);
  workflows::Engine engine(io, *journal, registry);  // no queue limit: all asleep at once
  double resumed_s = 0, fired_s = 0;
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        Status s = co_await engine.Recover();
        if (!s.ok()) std::fprintf(stderr, "recover: %s\n", s.ToString().c_str());
        asio::steady_timer poll(io);
        while (counters.entered < pending || counters.short_woken < counters.short_entered) {
          if (resumed_s == 0 && counters.entered >= pending) {
            resumed_s = std::chrono::duration<double>(Clock::now() - t0).count();
          }
          poll.expires_after(std::chrono::milliseconds(1));
          co_await poll.async_wait(asio::use_awaitable);
        }
        fired_s = std::chrono::duration<double>(Clock::now() - t0).count();
        if (resumed_s == 0) resumed_s = fired_s;
        co_await engine.Drain(Millis(1000));
        io.stop();
      },
      asio::detached);
  io.run();
  std::printf(
      "engine=zlh-flow recovery_workflows=%ld overdue=%ld resumed_s=%.2f overdue_fired_s=%.2f "
      "rss_mb=%.0f%s\n",
      pending, counters.short_entered, resumed_s, fired_s, bench::PeakRssMb(),
      bench::BaselineFields(baseline).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  Args args = Parse(argc, argv);
  if (args.verb == "wf5") return Wf5(args);
  if (args.verb == "provision") {
    std::unique_ptr<ScratchDir> tmp;
    std::string dir = DataDir(args, tmp);
    bench::Baseline baseline = BaselineOrExit(args, dir);
    return bench::BenchProvision(dir, args.Int("servers", 500), args.Int("concurrency", 8),
                                 baseline);
  }
  if (args.verb == "reconcile") {
    std::unique_ptr<ScratchDir> tmp;
    std::string dir = DataDir(args, tmp);
    long latency = args.values.count("latency-ms") ? std::stol(args.values.at("latency-ms")) : 0;
    if (latency < 0) Usage("--latency-ms must not be negative");
    bench::Baseline baseline = BaselineOrExit(args, dir);
    return bench::BenchReconcile(dir, args.Int("servers", 10000), latency,
                                 args.Int("concurrency", 32), baseline);
  }
  if (args.verb == "fsync-baseline") return FsyncBaseline(args);
  if (args.verb == "recovery") return Recovery(args, "/proc/self/exe");
  if (args.verb == "recovery-child") return RecoveryChild(args);
  Usage("unknown verb '" + args.verb + "'");
}
