// Router: method + path pattern ("/api/servers/{serverId}/operations") → handler. A known path
// with another method answers 405 with Allow; an unknown path 404.
//
// Thread-safety: filled before serving, then read-only.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "api/http_server.h"

namespace zlh::api {

using PathParams = std::map<std::string, std::string>;
using RouteFn = std::function<Task<Response>(const Request&, const PathParams&)>;

class Router {
 public:
  void Add(std::string method, std::string pattern, RouteFn fn);
  Task<Response> Dispatch(const Request& request) const;
  // (method, pattern) of every route, in the order added.
  std::vector<std::pair<std::string, std::string>> Routes() const;
  // Requests answered, by "METHOD pattern" ("unmatched" for no route) and HTTP status.
  const std::map<std::pair<std::string, int>, uint64_t>& counts() const { return counts_; }

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    RouteFn fn;
  };
  static bool Match(const Route& route, const std::vector<std::string>& path, PathParams* params);
  Task<Response> Serve(const Request& request, std::string* route) const;

  std::vector<Route> routes_;
  mutable std::map<std::pair<std::string, int>, uint64_t> counts_;
};

}  // namespace zlh::api
