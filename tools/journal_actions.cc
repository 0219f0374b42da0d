#include "tools/journal_actions.h"

#include <curl/curl.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace zlh::tools {
namespace {

namespace json = boost::json;

[[noreturn]] void Exit(int code, const std::string& message) {
  std::fprintf(stderr, "zlh-journal: %s\n", message.c_str());
  std::exit(code);
}

// The admin token: the file's "admin SECRET" line (zlhd's tokens file), or its only word.
std::string ReadToken(const std::string& path) {
  std::ifstream in(path);
  if (!in) Exit(2, "--token-file: cannot read " + path);
  std::string line, only;
  int words = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string a, b;
    fields >> a >> b;
    if (a == "admin" && !b.empty()) return b;
    if (!a.empty() && b.empty()) {
      only = a;
      ++words;
    }
  }
  if (words == 1) return only;
  Exit(2, "--token-file: " + path + " holds neither an \"admin TOKEN\" line nor a single token");
}

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct Answer {
  long status = 0;
  std::string body;
};

Answer Send(const ActionArgs& args, const std::string& method, const std::string& path,
            const std::string& body) {
  std::string token = ReadToken(args.token_file);
  Answer a;
  CURL* curl = curl_easy_init();
  std::string url = args.server;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += path;
  curl_slist* headers = curl_slist_append(nullptr, ("Authorization: Bearer " + token).c_str());
  headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 60'000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    Exit(4, "the daemon at " + args.server + " did not answer: " + curl_easy_strerror(rc));
  }
  return a;
}

// Prints the daemon's answer: the success (as JSON with --json, else `done`), or its error.
int Report(const ActionArgs& args, const Answer& a, const std::string& done) {
  if (a.status >= 200 && a.status < 300) {
    if (args.json) {
      std::printf("%s\n", a.body.c_str());
    } else {
      std::printf("%s\n", done.c_str());
    }
    return 0;
  }
  boost::system::error_code ec;
  json::value v = json::parse(a.body, ec);
  std::string message = a.body;
  if (!ec && v.is_object() && v.as_object().contains("error")) {
    const auto& e = v.as_object().at("error");
    if (e.is_object() && e.as_object().contains("code") && e.as_object().contains("message")) {
      message = std::string(e.at("code").as_string()) + ": " + std::string(e.at("message").as_string());
    }
  }
  std::fprintf(stderr, "zlh-journal: the daemon refused (HTTP %ld): %s\n", a.status, message.c_str());
  return 1;
}

void Want(const ActionArgs& args, size_t min, size_t max, const char* usage) {
  if (args.positional.size() < min || args.positional.size() > max) {
    Exit(2, std::string("usage: zlh-journal --server URL --token-file F ") + usage);
  }
}

}  // namespace

bool IsDaemonAction(const std::string& verb) {
  return verb == "retry" || verb == "cancel" || verb == "signal" || verb == "approve";
}

int RunAction(const ActionArgs& args) {
  if (args.server.empty() || args.token_file.empty()) {
    Exit(2, args.verb + " goes through the daemon: give --server URL --token-file F");
  }
  if (args.server.rfind("http://", 0) != 0 && args.server.rfind("https://", 0) != 0) {
    Exit(2, "--server: '" + args.server + "' is not an http:// or https:// URL");
  }
  const auto& p = args.positional;
  if (args.verb == "retry") {
    Want(args, 1, 1, "retry ID [--force]");
    std::string body = args.force ? json::serialize(json::object{{"confirmAtMostOnce", true}}) : "";
    return Report(args, Send(args, "POST", "/api/workflows/" + p[0] + "/retry", body),
                  "workflow " + p[0] + " retried");
  }
  if (args.verb == "cancel") {
    Want(args, 1, 1, "cancel ID [--reason TEXT]");
    std::string body = args.reason.empty() ? "" : json::serialize(json::object{{"reason", args.reason}});
    return Report(args, Send(args, "POST", "/api/workflows/" + p[0] + "/cancel", body),
                  "cancel of workflow " + p[0] + " recorded");
  }
  if (args.verb == "signal") {
    Want(args, 2, 3, "signal ID NAME [JSON]");
    std::string payload = p.size() == 3 ? p[2] : "";
    if (!payload.empty()) {
      boost::system::error_code ec;
      (void)json::parse(payload, ec);
      if (ec) Exit(2, "signal: the payload is not JSON (" + ec.message() + ")");
    }
    return Report(args, Send(args, "POST", "/api/workflows/" + p[0] + "/signals/" + p[1], payload),
                  "signal " + p[1] + " delivered to workflow " + p[0]);
  }
  if (args.verb == "approve") {
    Want(args, 1, 1, "approve ID [--from-template]");
    std::string body = args.from_template ? json::serialize(json::object{{"fromTemplate", true}}) : "";
    return Report(args, Send(args, "POST", "/api/repairs/" + p[0] + "/approve", body),
                  "repair " + p[0] + " approved");
  }
  if (args.verb == "backup") {
    Want(args, 1, 1, "backup DIR");
    return Report(args,
                  Send(args, "POST", "/api/admin/backup", json::serialize(json::object{{"dir", p[0]}})),
                  "backup written by the daemon to " + p[0]);
  }
  Exit(2, "unknown verb '" + args.verb + "'");
}

}  // namespace zlh::tools
