// Proxmox's parameter verification (pve-common's PVE::JSONSchema) for the simulated routes: each
// route's parameters (path, query and form alike) with their types. A value of the wrong type or
// format, a missing required one, or one the route does not define is refused with 400 {"data":
// null, "errors": {param: message}} in Proxmox's words, before the call does anything.
#include <regex>

#include "sim/sim_state.h"

namespace zlh::sim {
namespace {

enum class Type { kBoolean, kInteger, kNumber, kString, kVmid, kNode, kDnsName, kStorage, kVmType };

struct Param {
  const char* name;
  Type type;
  bool required = false;
};

struct Route {
  const char* name;
  std::vector<Param> params;
};

constexpr Param kNode{"node", Type::kNode, true};
constexpr Param kVmid{"vmid", Type::kVmid, true};

// The routes of pve-container's API2/LXC.pm, LXC/Status.pm and pve-manager's Cluster.pm and
// Tasks.pm that zlh-sim serves (the config PUT and resize check their own: sim_proxmox_config.cc).
const std::vector<Route>& Routes() {
  static const std::vector<Route> kRoutes = {
      {"node", {kNode}},
      {"lxc", {kNode, kVmid}},
      {"cluster/resources", {{"type", Type::kVmType}}},
      {"tasks/status", {kNode, {"upid", Type::kString, true}}},
      {"lxc/clone",
       {kNode,
        kVmid,
        {"newid", Type::kVmid, true},
        {"hostname", Type::kDnsName},
        {"full", Type::kBoolean},
        {"target", Type::kNode},
        {"storage", Type::kStorage},
        {"description", Type::kString},
        {"pool", Type::kString},
        {"snapname", Type::kString},
        {"bwlimit", Type::kNumber}}},
      {"lxc/status/start", {kNode, kVmid, {"skiplock", Type::kBoolean}, {"debug", Type::kBoolean}}},
      {"lxc/status/stop",
       {kNode, kVmid, {"skiplock", Type::kBoolean}, {"overrule-shutdown", Type::kBoolean}}},
      {"lxc/status/shutdown",
       {kNode, kVmid, {"timeout", Type::kInteger}, {"forceStop", Type::kBoolean}}},
      {"lxc/status/reboot", {kNode, kVmid, {"timeout", Type::kInteger}}},
      {"lxc/status/current", {kNode, kVmid}},
      {"lxc/destroy",
       {kNode,
        kVmid,
        {"purge", Type::kBoolean},
        {"force", Type::kBoolean},
        {"destroy-unreferenced-disks", Type::kBoolean}}},
      {"lxc/config", {kNode, kVmid, {"current", Type::kBoolean}, {"snapshot", Type::kString}}},
      {"lxc/interfaces", {kNode, kVmid}},
  };
  return kRoutes;
}

// Proxmox's integer (PVE::JSONSchema::is_integer) and number, and the formats pve-vmid,
// pve-node, dns-name and pve-storage-id.
const std::regex kInteger("\\s*[+-]?[0-9]+\\s*");
const std::regex kNumber("\\s*[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)\\s*");
const std::regex kVmidFormat("[1-9][0-9]{2,8}");
const std::regex kNodeFormat("[a-zA-Z0-9]([a-zA-Z0-9\\-]*[a-zA-Z0-9])?");
const std::regex kDnsFormat(
    "([a-zA-Z0-9]([a-zA-Z0-9\\-]*[a-zA-Z0-9])?\\.)*[A-Za-z0-9]([A-Za-z0-9\\-]*[A-Za-z0-9])?");
const std::regex kStorageFormat("[a-zA-Z][a-zA-Z0-9\\-_.]*[a-zA-Z0-9]");

bool Matches(const std::string& value, const std::regex& pattern) {
  return std::regex_match(value, pattern);
}

// A format check's refusal: "" when `value` has the format, else what Proxmox says, ending with
// the newline its format checks die with.
std::string FormatProblem(const std::string& value, const std::regex& format,
                          const std::string& says) {
  return Matches(value, format) ? "" : "invalid format - " + says + "\n";
}

// What Proxmox says of `value` as a `type`; "" when it is sound.
std::string Problem(Type type, const std::string& value) {
  auto type_check = [&](const char* name) {
    return "type check ('" + std::string(name) + "') failed - got '" + value + "'";
  };
  switch (type) {
    case Type::kBoolean:
      return value == "0" || value == "1" ? "" : type_check("boolean");
    case Type::kInteger:
      return Matches(value, kInteger) ? "" : type_check("integer");
    case Type::kNumber:
      return Matches(value, kNumber) ? "" : type_check("number");
    case Type::kString:
      return "";
    case Type::kVmid:
      if (!Matches(value, kInteger)) return type_check("integer");
      return FormatProblem(value, kVmidFormat, "value does not look like a valid VM ID");
    case Type::kNode:
      return FormatProblem(value, kNodeFormat, "value does not look like a valid node name");
    case Type::kDnsName:
      return FormatProblem(value, kDnsFormat, "value does not look like a valid DNS name");
    case Type::kStorage:
      return FormatProblem(value, kStorageFormat,
                           "storage ID '" + value + "' contains illegal characters");
    case Type::kVmType:
      return value == "vm" || value == "storage" || value == "node" || value == "sdn"
                 ? ""
                 : "value '" + value +
                       "' does not have a value in the enumeration 'vm, storage, node, sdn'";
  }
  return "";
}

}  // namespace

json::object PveParamErrors(const std::string& route,
                            const std::map<std::string, std::string>& params) {
  json::object errors;
  for (const Route& r : Routes()) {
    if (route != r.name) continue;
    for (const Param& p : r.params) {
      auto it = params.find(p.name);
      if (it == params.end()) {
        if (p.required) errors[p.name] = "property is missing and it is not optional";
      } else if (std::string problem = Problem(p.type, it->second); !problem.empty()) {
        errors[p.name] = problem;
      }
    }
    for (const auto& [name, value] : params) {
      bool known = false;
      for (const Param& p : r.params) known |= name == p.name;
      if (!known) {
        errors[name] =
            "property is not defined in schema and the schema does not allow additional "
            "properties";
      }
    }
  }
  return errors;
}

}  // namespace zlh::sim
