#include "tools/journal_cli.h"

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backup/restore.h"
#include "backup/take.h"
#include "base/clock.h"
#include "fleet/tables.h"
#include "flows/flows.h"
#include "flows/inputs.h"
#include "flows/verify_journal.h"
#include "journal/format.h"
#include "journal/journal.h"
#include "tools/journal_actions.h"
#include "workflows/replay.h"
#include "workflows/upgrade.h"
#include "workflows/view.h"

namespace {

using namespace zlh;
namespace json = boost::json;

constexpr char kUsage[] =
    "usage: zlh-journal [--data DIR] [--json] VERB [ARGS]\n"
    "\n"
    "Reads the journal of a zlh-flow data directory (default ./zlh-data), also while zlhd runs.\n"
    "\n"
    "verbs:\n"
    "  list [--status S] [--type T] [--limit N]   workflows, newest first (default limit 50;\n"
    "                                              0: all). S: queued, running, waiting,\n"
    "                                              completed, failed, cancelled\n"
    "  show ID                                     one workflow as a timeline of its steps\n"
    "  history ID                                  every raw event, with seq and time\n"
    "  export [ID]                                 events as JSON lines (all, or one workflow)\n"
    "  tail [--follow]                             events across all workflows in commit order:\n"
    "                                              the recent ones, then (--follow) each new one\n"
    "                                              as it is committed, until Ctrl-C\n"
    "  replay ID                                   re-run the workflow's code over its history,\n"
    "                                              with no side effect; exit 1 naming the first\n"
    "                                              divergence\n"
    "  check-upgrade                               before upgrading: replay every workflow that\n"
    "                                              may still run (queued, running, waiting,\n"
    "                                              failed) with this build's code; exit 1\n"
    "                                              listing each it cannot continue\n"
    "  verify                                      check the journal's files (exit 3 when one is\n"
    "                                              missing or damaged) and its invariants; exit 1\n"
    "                                              listing each violation\n"
    "  backup DIR                                  a backup in DIR (new): DIR/journal, a\n"
    "                                              consistent copy of the journal, and\n"
    "                                              DIR/tokens; written by the daemon with\n"
    "                                              --server (DIR new under its backup root:\n"
    "                                              backup.dir, default DATA/backups), else\n"
    "                                              directly and verified (no zlhd may hold the\n"
    "                                              journal)\n"
    "  restore BACKUP                              make --data DIR (absent or empty, else exit 1)\n"
    "                                              from a backup: verified first (exit 1 when it\n"
    "                                              fails), then its journal and tokens file\n"
    "                                              copied in; zlhd --data DIR starts from it\n"
    "\n"
    "operator actions, through the daemon (--server URL --token-file F, before the verb):\n"
    "  retry ID [--force]                          resume a failed workflow from its failed step;\n"
    "                                              --force: even when that runs again an\n"
    "                                              at-most-once step that was interrupted (it may\n"
    "                                              have acted)\n"
    "  cancel ID [--reason TEXT]                   cancel (the workflow compensates)\n"
    "  signal ID NAME [JSON]                       deliver a signal with an optional payload\n"
    "  approve ID [--from-template]                approve a destructive repair; --from-template:\n"
    "                                              a missing container with no backup may be\n"
    "                                              rebuilt from its template (an empty world)\n"
    "\n"
    "  --json   machine-readable output (JSON lines for list, history and export)\n"
    "  --help   this text (also after a verb)\n"
    "\n"
    "  --server URL      the daemon (zlhd) to send actions to, e.g. http://127.0.0.1:8080\n"
    "  --token-file F    its admin token: zlhd's DATA/tokens file, or a file holding the token\n"
    "\n"
    "Exit codes: 0 fine; 1 replay, check-upgrade or verify found a problem, the daemon\n"
    "refused, or a restore was refused; 2 bad usage, unknown id or no journal; 3 journal\n"
    "unreadable or of another format (older: zlhd --migrate), or a restore's copy failed;\n"
    "4 the daemon did not answer.\n";

[[noreturn]] void Fail(int code, const std::string& message) {
  std::fprintf(stderr, "zlh-journal: %s\n", message.c_str());
  std::exit(code);
}
[[noreturn]] void UsageError(const std::string& message) {
  Fail(2, message + " (zlh-journal --help lists the verbs)");
}

struct Args {
  std::string data = "zlh-data";
  std::string server;
  std::string token_file;
  bool json = false;
  bool follow = false;
  bool force = false;  // retry --force
  bool from_template = false;  // approve --from-template
  std::string verb;
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;
};

Args Parse(int argc, char** argv) {
  Args args;
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--data") {
      if (++i >= argc) UsageError("--data needs a directory");
      args.data = argv[i];
    } else if (a == "--json") {
      args.json = true;
    } else if (a == "--server" || a == "--token-file") {
      if (++i >= argc) UsageError(a + " needs a value");
      (a == "--server" ? args.server : args.token_file) = argv[i];
    } else if (a.rfind("--", 0) == 0) {
      UsageError("unknown option '" + a + "'");
    } else {
      break;
    }
  }
  if (i >= argc) UsageError("a verb is required");
  args.verb = argv[i++];
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--json") {
      args.json = true;
    } else if (a == "--follow" || a == "-f") {
      args.follow = true;
    } else if (a == "--force" && args.verb == "retry") {
      args.force = true;
    } else if (a == "--from-template" && args.verb == "approve") {
      args.from_template = true;
    } else if (a == "--status" || a == "--type" || a == "--limit" || a == "--reason") {
      if (i + 1 >= argc) UsageError(a + " needs a value");
      args.flags[a.substr(2)] = argv[++i];
    } else if (a.rfind("--", 0) == 0) {
      UsageError("unknown option '" + a + "' for " + args.verb);
    } else {
      args.positional.push_back(a);
    }
  }
  return args;
}

// The opened journal, or exits: 2 when there is none, 3 naming why it cannot be read.
std::unique_ptr<journal::Journal> OrExit(journal::Journal::Opened opened) {
  if (opened.journal) return std::move(opened.journal);
  if (opened.error == journal::OpenError::kNoJournal) Fail(2, opened.status.message());
  Fail(3, "journal unreadable (" + std::string(OpenErrorName(opened.error)) + "): " +
              opened.status.message() + "; " + std::string(OpenErrorHint(opened.error)));
}

std::unique_ptr<journal::Journal> OpenJournal(const std::string& data) {
  journal::Options options;
  options.read_only = true;
  return OrExit(journal::Journal::TryOpen(data + "/journal", options));
}

// ---- presentation ----

bool Colour() { return isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr; }

std::string Paint(const std::string& status, const std::string& text) {
  if (!Colour()) return text;
  const char* code = status == "completed"                          ? "32"
                     : status == "failed" || status == "interrupted" ? "31"
                     : status == "cancelled" || status == "timed_out" ? "35"
                                                                      : "33";
  return std::string("\033[") + code + "m" + text + "\033[0m";
}

std::string Time(int64_t ms) { return ms ? FormatRfc3339(ms) : "-"; }

std::string Duration(int64_t ms) {
  char buf[32];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  } else if (ms < 60'000) {
    std::snprintf(buf, sizeof buf, "%.3fs", static_cast<double>(ms) / 1000.0);
  } else {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms % 60'000 / 1000));
  }
  return buf;
}

std::string ProtoJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

// The event's kind ("StepCompleted") and its payload as JSON.
std::pair<std::string, std::string> KindAndPayload(const proto::Event& e) {
  const google::protobuf::Reflection* r = e.GetReflection();
  const google::protobuf::OneofDescriptor* kind = e.GetDescriptor()->FindOneofByName("kind");
  const google::protobuf::FieldDescriptor* f = r->GetOneofFieldDescriptor(e, kind);
  if (!f) return {"Unknown", "{}"};
  return {f->message_type()->name(), ProtoJson(r->GetMessage(e, f))};
}

json::object SummaryJson(const proto::WorkflowSummary& s, const workflows::WorkflowView* view) {
  json::object o;
  o["workflowId"] = s.id();
  o["type"] = s.type();
  o["status"] = workflows::StatusName(s.status());
  o["queue"] = s.queue();
  o["dedupKey"] = s.dedup_key();
  o["createdAt"] = Time(s.created_ms());
  o["updatedAt"] = Time(view ? view->updated_ms : s.updated_ms());
  if (s.has_waiting_for()) {
    o["waitingFor"] = json::object{{"kind", s.waiting_for().kind()},
                                   {"detail", s.waiting_for().detail()},
                                   {"since", Time(s.waiting_for().since_ms())},
                                   {"polls", s.waiting_for().polls()}};
  } else {
    o["waitingFor"] = nullptr;
  }
  o["result"] = s.result();
  if (s.has_error()) {
    o["error"] = json::object{{"code", s.error().code()}, {"message", s.error().message()}};
  } else {
    o["error"] = nullptr;
  }
  return o;
}

// ---- verbs ----

std::string IdArg(const Args& args) {
  if (args.positional.size() != 1) UsageError(args.verb + " takes one workflow id");
  return args.positional[0];
}

proto::WorkflowSummary SummaryOrExit(const journal::Journal& j, const std::string& id) {
  auto s = j.ReadSummary(id);
  if (!s.ok()) Fail(3, s.status().ToString());
  if (!s->has_value()) Fail(2, "no workflow " + id);
  return **s;
}

std::vector<proto::Event> EventsOrExit(const journal::Journal& j, const std::string& id) {
  auto events = j.ReadEvents(id);
  if (!events.ok()) Fail(3, events.status().ToString());
  return *events;
}

int List(const Args& args, const journal::Journal& j) {
  int status = 0;
  if (auto it = args.flags.find("status"); it != args.flags.end()) {
    status = workflows::StatusFromName(it->second);
    if (status == 0) UsageError("unknown status '" + it->second + "'");
  }
  std::string type = args.flags.count("type") ? args.flags.at("type") : "";
  long limit = 50;
  if (auto it = args.flags.find("limit"); it != args.flags.end()) {
    char* end = nullptr;
    limit = std::strtol(it->second.c_str(), &end, 10);
    if (*end != '\0' || limit < 0) UsageError("--limit needs a number >= 0");
  }
  if (!args.positional.empty()) UsageError("list takes no arguments");
  if (!args.json) {
    std::printf("%-26s  %-12s  %-10s  %-24s  %-24s  %s\n", "ID", "TYPE", "STATUS", "CREATED",
                "LAST PROGRESS", "CURRENT STEP");
  }
  long shown = 0;
  Status bad;
  auto events = j.NewCursor(journal::Cf::kEvents);
  // Ids are time-ordered: the summaries read backwards are newest first. Rows print as they are
  // read, so memory stays flat however many workflows there are.
  Status s = j.Scan(
      journal::Cf::kSummaries, "",
      [&](std::string_view key, std::string_view value) {
        proto::WorkflowSummary summary;
        if (!summary.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          bad = Corruption("summary of " + std::string(key) + " cannot be decoded");
          return false;
        }
        if (status != 0 && summary.status() != status) return true;
        if (!type.empty() && summary.type() != type) return true;
        // The newest event: the current step and the last progress (the summary may lag).
        proto::Event last;
        if (events->SeekLast(journal::EventPrefix(key))) {
          (void)last.ParseFromArray(events->value().data(), static_cast<int>(events->value().size()));
        }
        std::string step;
        if (summary.has_waiting_for()) {
          step = summary.waiting_for().kind() + ": " + summary.waiting_for().detail();
        } else if (last.has_step_completed()) {
          step = "#" + std::to_string(last.step_completed().step()) + " " +
                 last.step_completed().name();
        } else if (last.has_step_failed()) {
          step = "#" + std::to_string(last.step_failed().step()) + " " + last.step_failed().name();
        } else if (last.has_step_started()) {
          step = "#" + std::to_string(last.step_started().step()) + " " +
                 last.step_started().name();
        }
        std::string name = workflows::StatusName(summary.status());
        if (args.json) {
          json::object o = SummaryJson(summary, nullptr);
          o["updatedAt"] = Time(last.time_ms());
          o["currentStep"] = step;
          std::printf("%s\n", json::serialize(o).c_str());
        } else {
          char padded[16];
          std::snprintf(padded, sizeof padded, "%-10s", name.c_str());
          std::printf("%-26s  %-12s  %s  %-24s  %-24s  %s\n", summary.id().c_str(),
                      summary.type().c_str(), Paint(name, padded).c_str(),
                      Time(summary.created_ms()).c_str(), Time(last.time_ms()).c_str(),
                      step.c_str());
        }
        return limit == 0 || ++shown < limit;
      },
      journal::Journal::Direction::kBackward);
  if (!s.ok()) Fail(3, s.ToString());
  if (!bad.ok()) Fail(3, bad.ToString());
  return 0;
}

// A provisioning's server as the tables hold it now, and the configuration its
// configure_container step applied (SPEC §9.1, §9.2); an empty object for other workflows.
json::object ProvisionedServer(const journal::Journal& j, const proto::WorkflowSummary& summary,
                               const std::string& input, const std::vector<proto::Event>& events) {
  if (summary.type() != flows::kProvision) return {};
  auto in = flows::ParseProvisionInput(input);
  if (!in.ok()) return {};
  auto server = fleet::ReadServer(j, in->server_id);
  if (!server.ok() || !server->has_value()) return {};
  const proto::Server& s = **server;
  json::object out{{"serverId", s.server_id()}, {"status", fleet::ServerStatusName(s.status())},
                   {"vmid", s.vmid()},          {"node", s.node()},
                   {"address", s.address()},    {"plan", s.plan()}};
  for (const auto& e : events) {
    if (e.has_step_completed() && e.step_completed().name() == "configure_container") {
      out["configured"] = e.step_completed().result();
    }
  }
  return out;
}

int Show(const Args& args, const journal::Journal& j) {
  std::string id = IdArg(args);
  proto::WorkflowSummary summary = SummaryOrExit(j, id);
  std::vector<proto::Event> events = EventsOrExit(j, id);
  workflows::WorkflowView view = workflows::BuildView(summary, events);
  json::object server = ProvisionedServer(j, summary, view.input, events);
  std::string status = workflows::StatusName(summary.status());
  if (args.json) {
    json::object o = SummaryJson(summary, &view);
    o["input"] = view.input;
    json::array steps;
    for (const auto& s : view.steps) {
      steps.push_back(json::object{{"seq", s.step},
                                   {"name", s.name},
                                   {"status", s.status},
                                   {"attempts", s.attempts},
                                   {"startedAt", Time(s.started_ms)},
                                   {"completedAt", s.completed_ms ? json::value(Time(s.completed_ms))
                                                                  : json::value(nullptr)},
                                   {"error", s.error.empty() ? json::value(nullptr)
                                                             : json::value(s.error)},
                                   {"waitingFor", s.waiting_for.empty()
                                                      ? json::value(nullptr)
                                                      : json::value(s.waiting_for)}});
    }
    o["steps"] = std::move(steps);
    if (!server.empty()) o["server"] = server;
    std::printf("%s\n", json::serialize(o).c_str());
    return 0;
  }
  std::printf("workflow %s  (%s, queue %s)\n", id.c_str(), summary.type().c_str(),
              summary.queue().c_str());
  std::string waits;
  if (summary.has_waiting_for()) {
    waits = "  waiting for " + summary.waiting_for().kind() + ": " +
            summary.waiting_for().detail() + " since " + Time(summary.waiting_for().since_ms());
  }
  std::printf("status   %s%s\n", Paint(status, status).c_str(), waits.c_str());
  std::printf("created  %s   last progress %s   %llu events\n", Time(summary.created_ms()).c_str(),
              Time(view.updated_ms).c_str(), static_cast<unsigned long long>(view.last_seq));
  if (!summary.dedup_key().empty()) std::printf("dedup    %s\n", summary.dedup_key().c_str());
  if (!view.input.empty()) std::printf("input    %s\n", view.input.c_str());
  std::printf("steps\n");
  for (const auto& s : view.steps) {
    char status_col[16];
    std::snprintf(status_col, sizeof status_col, "%-11s", s.status.c_str());
    std::string attempts = s.attempts > 1 ? std::to_string(s.attempts) + " attempts"
                           : s.attempts == 1 ? "1 attempt"
                                             : "";
    std::string when;
    if (s.completed_ms) {
      when = Duration(s.completed_ms - s.started_ms);
    } else if (s.status == "retrying") {
      when = "next attempt " + Time(s.wake_ms);
    } else if (s.status == "waiting" && !s.waiting_for.empty()) {
      when = "for " + s.waiting_for;
    } else if (s.status == "waiting") {
      when = "until " + Time(s.wake_ms);
    }
    std::printf("  #%-3u %-24s %s %-11s %-24s %s%s\n", s.step, s.name.c_str(),
                Paint(s.status, status_col).c_str(), attempts.c_str(),
                Time(s.started_ms).c_str(), when.c_str(),
                s.error.empty() ? "" : ("   last error: " + s.error).c_str());
  }
  if (summary.status() == proto::COMPLETED) std::printf("result   %s\n", summary.result().c_str());
  if (!server.empty()) {
    auto text = [&](const char* key) { return std::string(server[key].as_string()); };
    std::printf("server   %s  %s  vmid %lld  node %s  address %s  plan %s\n",
                text("serverId").c_str(), text("status").c_str(),
                static_cast<long long>(server["vmid"].as_int64()),
                text("node").empty() ? "-" : text("node").c_str(),
                text("address").empty() ? "-" : text("address").c_str(), text("plan").c_str());
    if (server.contains("configured")) std::printf("sized    %s\n", text("configured").c_str());
  }
  if (summary.has_error()) {
    std::printf("error    %s: %s\n", summary.error().code().c_str(),
                summary.error().message().c_str());
  }
  return 0;
}

void PrintEvent(const Args& args, std::string_view stream, const proto::Event& e) {
  auto [kind, payload] = KindAndPayload(e);
  if (args.json) {
    json::object o{{"stream", stream}, {"seq", e.seq()}, {"time", Time(e.time_ms())},
                   {"kind", kind}, {"event", json::parse(payload)}};
    std::printf("%s\n", json::serialize(o).c_str());
  } else {
    std::printf("%s  %.*s %5llu  %-18s %s\n", Time(e.time_ms()).c_str(),
                static_cast<int>(stream.size()), stream.data(),
                static_cast<unsigned long long>(e.seq()), kind.c_str(), payload.c_str());
  }
}

volatile std::sig_atomic_t g_interrupted = 0;

int Tail(const Args& args, journal::Journal& j) {
  if (!args.positional.empty()) UsageError("tail takes no arguments");
  auto print = [&](std::string_view stream, const proto::Event& e) { PrintEvent(args, stream, e); };
  // What the write-ahead log still holds: the most recent events.
  uint64_t position = 0;
  Status s = j.Follow(&position, print);
  if (!s.ok() && s.code() != Code::kNotFound) Fail(3, s.ToString());
  if (!s.ok()) position = j.LatestPosition();
  std::fflush(stdout);
  if (!args.follow) return 0;
  std::signal(SIGINT, [](int) { g_interrupted = 1; });
  std::signal(SIGTERM, [](int) { g_interrupted = 1; });
  while (!g_interrupted) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (Status c = j.CatchUp(); !c.ok()) Fail(3, c.ToString());
    s = j.Follow(&position, print);
    if (s.code() == Code::kNotFound) {
      std::fprintf(stderr, "zlh-journal: fell behind the write-ahead log; events were skipped\n");
      position = j.LatestPosition();
    } else if (!s.ok()) {
      Fail(3, s.ToString());
    }
    std::fflush(stdout);
  }
  return 0;
}

int History(const Args& args, const journal::Journal& j) {
  std::string id = IdArg(args);
  (void)SummaryOrExit(j, id);
  for (const proto::Event& e : EventsOrExit(j, id)) {
    auto [kind, payload] = KindAndPayload(e);
    if (args.json) {
      json::object o{{"seq", e.seq()}, {"time", Time(e.time_ms())}, {"kind", kind},
                     {"event", json::parse(payload)}};
      std::printf("%s\n", json::serialize(o).c_str());
    } else {
      std::printf("%5llu  %s  %-18s %s\n", static_cast<unsigned long long>(e.seq()),
                  Time(e.time_ms()).c_str(), kind.c_str(), payload.c_str());
    }
  }
  return 0;
}

int Export(const Args& args, const journal::Journal& j) {
  if (args.positional.size() > 1) UsageError("export takes at most one workflow id");
  std::string prefix;
  if (args.positional.size() == 1) {
    (void)SummaryOrExit(j, args.positional[0]);
    prefix = journal::EventPrefix(args.positional[0]);
  }
  Status bad;
  Status s = j.Scan(journal::Cf::kEvents, prefix, [&](std::string_view key, std::string_view v) {
    std::string_view stream;
    journal::EventKeySeq(key, &stream);
    proto::Event e;
    if (!e.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      bad = Corruption("an event of " + std::string(stream) + " cannot be decoded");
      return false;
    }
    // The Protobuf JSON mapping, loss-free (64-bit integers as strings, bytes as base64).
    std::printf("{\"stream\":\"%s\",\"event\":%s}\n", std::string(stream).c_str(),
                ProtoJson(e).c_str());
    return true;
  });
  if (!s.ok()) Fail(3, s.ToString());
  if (!bad.ok()) Fail(3, bad.ToString());
  return 0;
}

int Replay(const Args& args, const journal::Journal& j, const workflows::Registry& registry) {
  std::string id = IdArg(args);
  (void)SummaryOrExit(j, id);
  auto report = workflows::Replay(registry, j, id);
  if (!report.ok()) {
    Fail(report.status().code() == Code::kFailedPrecondition ? 2 : 3, report.status().message());
  }
  if (args.json) {
    std::printf("%s\n", json::serialize(json::object{{"matches", report->matches},
                                                     {"stepsReplayed", report->steps_replayed},
                                                     {"divergence", report->divergence}})
                            .c_str());
  } else if (report->matches) {
    std::printf("ok: the code agrees with the history (%u steps replayed)\n",
                report->steps_replayed);
  } else {
    std::printf("diverged: %s\n", report->divergence.c_str());
  }
  return report->matches ? 0 : 1;
}

// Run with the new build's zlh-journal on the journal the old build is running: the workflows the
// new code could not continue are listed, so that they are finished under the old one first.
int CheckUpgrade(const Args& args, const journal::Journal& j,
                 const workflows::Registry& registry) {
  if (!args.positional.empty()) UsageError("check-upgrade takes no arguments");
  auto report = workflows::CheckUpgrade(registry, j);
  if (!report.ok()) Fail(3, report.status().ToString());
  if (args.json) {
    json::array blocked;
    for (const auto& b : report->blocked) {
      blocked.push_back(json::object{{"id", b.id},
                                     {"type", b.type},
                                     {"status", workflows::StatusName(b.status)},
                                     {"reason", b.reason}});
    }
    std::printf("%s\n", json::serialize(json::object{{"ok", report->blocked.empty()},
                                                     {"checked", report->checked},
                                                     {"blocked", std::move(blocked)}})
                            .c_str());
  } else if (report->blocked.empty()) {
    std::printf("ok: this build can continue all %zu workflows that may still run\n",
                report->checked);
  } else {
    for (const auto& b : report->blocked) {
      std::printf("%s  %s  %s: %s\n", b.id.c_str(), b.type.c_str(),
                  workflows::StatusName(b.status).c_str(), b.reason.c_str());
    }
    std::printf("%zu of %zu workflows that may still run cannot continue under this build: "
                "finish or cancel them under the running one before upgrading "
                "(docs/operations.md, Upgrade)\n",
                report->blocked.size(), report->checked);
  }
  return report->blocked.empty() ? 0 : 1;
}

// Writes a backup (backup/layout.h: the checkpoint, the tokens file, verified). RocksDB takes
// checkpoints from the process that holds the database, so this opens the journal for writing: it
// works while no zlhd holds it.
int Backup(const Args& args) {
  if (args.positional.size() != 1) UsageError("backup takes the directory to write the copy to");
  const std::string& dest = args.positional[0];
  std::error_code ec;
  if (std::filesystem::exists(dest, ec)) UsageError(dest + " exists already; name a new directory");
  journal::Options options;
  options.create_if_missing = false;
  journal::Journal::Opened opened = journal::Journal::TryOpen(args.data + "/journal", options);
  if (opened.error == journal::OpenError::kHeld) {
    Fail(3, opened.status.message() + "; a running zlhd takes the backup itself (POST /api/admin/backup)");
  }
  std::unique_ptr<journal::Journal> j = OrExit(std::move(opened));
  std::string tokens = args.data + "/" + backup::kTokensFile;
  backup::TakeRequest req{dest, std::filesystem::exists(tokens, ec) ? tokens : "",
                          backup::Origin::kTool};
  auto taken = backup::Take(*j, req);
  if (!taken.ok()) {
    Fail(taken.status().code() == Code::kCorruption ? 1 : 3, taken.status().ToString());
  }
  if (args.json) {
    std::printf("%s\n", json::serialize(json::object{{"path", dest},
                                                     {"tokens", taken->marker.tokens},
                                                     {"verified", true}})
                            .c_str());
  } else {
    std::printf("backup written to %s (the journal%s), verified\n", dest.c_str(),
                taken->marker.tokens ? " and the tokens file" : "");
  }
  return 0;
}

// Makes the data directory --data from a backup: verified first, refused (exit 1) when --data is
// not absent or empty or the backup fails verification.
int Restore(const Args& args) {
  if (args.positional.size() != 1) UsageError("restore takes the backup directory to restore from");
  const std::string& from = args.positional[0];
  auto restored = backup::Restore(from, args.data);
  if (!restored.ok()) {
    Code code = restored.status().code();
    int exit_code = code == Code::kNotFound ? 2 : code == Code::kIOError ? 3 : 1;
    Fail(exit_code, "restore refused: " + restored.status().message() +
                        (exit_code == 3 ? " (nothing was left behind in " + args.data + ")" : ""));
  }
  const auto& marker = restored->marker;
  std::string taken = marker ? FormatRfc3339(marker->taken_ms) : "";
  std::string origin = marker ? std::string(backup::OriginName(marker->origin)) : "";
  if (args.json) {
    std::printf("%s\n", json::serialize(json::object{{"data", args.data},
                                                     {"backup", from},
                                                     {"journalFiles", restored->journal_files},
                                                     {"journalBytes", restored->journal_bytes},
                                                     {"tokens", restored->tokens},
                                                     {"takenAt", taken},
                                                     {"origin", origin}})
                            .c_str());
    return 0;
  }
  std::printf("verified %s%s\n", from.c_str(),
              marker ? (" (taken " + taken + ", " + origin + ")").c_str() : "");
  std::printf("restored into %s: the journal (%llu files, %llu bytes)%s\n", args.data.c_str(),
              static_cast<unsigned long long>(restored->journal_files),
              static_cast<unsigned long long>(restored->journal_bytes),
              restored->tokens ? " and the tokens file (mode 0600)"
                               : "; the backup has no tokens file: zlhd writes new tokens at its "
                                 "first start");
  std::printf("start zlhd with --data %s: it resumes the workflows that were unfinished\n",
              args.data.c_str());
  return 0;
}

int Verify(const Args& args, journal::Journal& j) {
  if (!args.positional.empty()) UsageError("verify takes no arguments");
  auto violations = flows::VerifyJournal(j);
  if (!violations.ok() && violations.status().code() == Code::kCorruption) {
    Fail(3, "journal unreadable (corrupt): " + violations.status().message() + "; " +
                std::string(journal::OpenErrorHint(journal::OpenError::kCorrupt)));
  }
  if (!violations.ok()) Fail(3, violations.status().ToString());
  if (args.json) {
    json::array list;
    for (const auto& v : *violations) list.push_back(json::object{{"subject", v.subject}, {"what", v.what}});
    std::printf("%s\n", json::serialize(json::object{{"ok", violations->empty()},
                                                     {"violations", std::move(list)}})
                            .c_str());
  } else if (violations->empty()) {
    std::printf("ok: no violation found\n");
  } else {
    for (const auto& v : *violations) std::printf("%s: %s\n", v.subject.c_str(), v.what.c_str());
    std::printf("%zu violation%s\n", violations->size(), violations->size() == 1 ? "" : "s");
  }
  return violations->empty() ? 0 : 1;
}

}  // namespace

namespace zlh::tools {

int JournalMain(int argc, char** argv, const workflows::Registry& registry) {
  spdlog::set_level(spdlog::level::off);
  Args args = Parse(argc, argv);
  static const std::map<std::string, int (*)(const Args&, const journal::Journal&)> kVerbs = {
      {"list", List}, {"show", Show}, {"history", History}, {"export", Export}};
  if (tools::IsDaemonAction(args.verb) || (args.verb == "backup" && !args.server.empty())) {
    tools::ActionArgs action{args.server, args.token_file, args.verb, args.positional,
                             args.flags.count("reason") ? args.flags.at("reason") : "", args.json,
                             args.force, args.from_template};
    return tools::RunAction(action);
  }
  if (args.verb == "backup") return Backup(args);
  if (args.verb == "restore") return Restore(args);
  auto verb = kVerbs.find(args.verb);
  if (verb == kVerbs.end() && args.verb != "replay" && args.verb != "tail" &&
      args.verb != "verify" && args.verb != "check-upgrade") {
    UsageError("unknown verb '" + args.verb + "'");
  }
  auto journal = OpenJournal(args.data);
  if (args.verb == "replay") return Replay(args, *journal, registry);
  if (args.verb == "check-upgrade") return CheckUpgrade(args, *journal, registry);
  if (args.verb == "tail") return Tail(args, *journal);
  if (args.verb == "verify") return Verify(args, *journal);
  return verb->second(args, *journal);
}

}  // namespace zlh::tools
