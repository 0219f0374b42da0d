#include "api/router.h"

#include "api/errors.h"

#include <algorithm>

namespace zlh::api {
namespace {

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

void Router::Add(std::string method, std::string pattern, RouteFn fn) {
  std::vector<std::string> segments = Split(pattern);
  routes_.push_back({std::move(method), std::move(pattern), std::move(segments), std::move(fn)});
}

bool Router::Match(const Route& route, const std::vector<std::string>& path, PathParams* params) {
  if (route.segments.size() != path.size()) return false;
  PathParams found;
  for (size_t i = 0; i < path.size(); ++i) {
    const std::string& s = route.segments[i];
    if (s.size() > 2 && s.front() == '{' && s.back() == '}') {
      if (path[i].empty()) return false;
      found[s.substr(1, s.size() - 2)] = path[i];
    } else if (s != path[i]) {
      return false;
    }
  }
  *params = std::move(found);
  return true;
}

Task<Response> Router::Dispatch(const Request& request) const {
  std::string route = "unmatched";
  Response r = co_await Serve(request, &route);
  ++counts_[{route, r.status}];
  co_return r;
}

Task<Response> Router::Serve(const Request& request, std::string* route_name) const {
  std::vector<std::string> path = Split(request.path);
  // The most specific patterns that match (most literal segments) decide: "/api/servers/create"
  // is that route's path, not a server named "create".
  auto literals = [](const Route& r) {
    size_t n = 0;
    for (const auto& s : r.segments) n += s.empty() || s.front() != '{';
    return n;
  };
  size_t best = 0;
  bool any = false;
  for (const Route& route : routes_) {
    PathParams params;
    if (Match(route, path, &params)) {
      best = std::max(best, literals(route));
      any = true;
    }
  }
  if (!any) co_return ErrorResponse(404, "not_found", "no route " + request.path);
  std::string allow;
  for (const Route& route : routes_) {
    PathParams params;
    if (literals(route) != best || !Match(route, path, &params)) continue;
    if (route.method == request.method) {
      *route_name = route.method + " " + route.pattern;
      co_return co_await route.fn(request, params);
    }
    if (allow.find(route.method) == std::string::npos) {
      allow += (allow.empty() ? "" : ", ") + route.method;
    }
  }
  Response r = ErrorResponse(405, "invalid_argument",
                             request.method + " is not allowed here; use " + allow);
  r.headers.emplace_back("Allow", allow);
  co_return r;
}

std::vector<std::pair<std::string, std::string>> Router::Routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Route& r : routes_) out.emplace_back(r.method, r.pattern);
  return out;
}

}  // namespace zlh::api
