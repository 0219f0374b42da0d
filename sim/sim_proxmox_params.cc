// Proxmox's parameter verification (pve-common's PVE::JSONSchema) for the simulated routes: each
// route's parameters (path, query and form alike) with their types. A value of the wrong type or
// format, a missing required one, or one the route does not define is refused with 400 {"data":
// null, "errors": {param: message}} in Proxmox's words, before the call does anything.
#include <algorithm>
#include <regex>
#include <set>
#include <sstream>

#include "sim/sim_state.h"

namespace zlh::sim {
namespace {

enum class Type {
  kBoolean,
  kInteger,
  kNumber,
  kString,
  kVmid,
  kVmidList,
  kNode,
  kDnsName,
  kStorage,
  kStorageContent,
  kEnum,
};

struct Param {
  const char* name;
  Type type;
  bool required = false;
  const char* choices = nullptr;  // kEnum: the values, as Proxmox lists them ("a, b, c")
};

struct Route {
  const char* name;
  std::vector<Param> params;
  // Whether the container's options (PVE::LXC::Config's json_config_properties) are parameters
  // too, checked as PUT .../config checks them (ContainerOptionProblem).
  bool container_options = false;
};

constexpr Param kNode{"node", Type::kNode, true};
constexpr Param kVmid{"vmid", Type::kVmid, true};

// pve-manager's API2/VZDump.pm: the options of PVE::VZDump::Common (pve-guest-common 5.1) and
// stdout. Their ranges (minimum, maximum) and property-string formats are not checked.
Route Vzdump() {
  return {"vzdump",
          {kNode,
           {"vmid", Type::kVmidList},
           {"all", Type::kBoolean},
           {"stdexcludes", Type::kBoolean},
           {"compress", Type::kEnum, false, "0, 1, gzip, lzo, zstd"},
           {"pigz", Type::kInteger},
           {"zstd", Type::kInteger},
           {"quiet", Type::kBoolean},
           {"mode", Type::kEnum, false, "snapshot, suspend, stop"},
           {"exclude", Type::kVmidList},
           {"exclude-path", Type::kString},
           {"mailto", Type::kString},
           {"mailnotification", Type::kEnum, false, "always, failure"},
           {"notification-mode", Type::kEnum, false, "auto, legacy-sendmail, notification-system"},
           {"notification-policy", Type::kEnum, false, "always, failure, never"},
           {"notification-target", Type::kString},
           {"tmpdir", Type::kString},
           {"dumpdir", Type::kString},
           {"script", Type::kString},
           {"storage", Type::kStorage},
           {"stop", Type::kBoolean},
           {"bwlimit", Type::kInteger},
           {"ionice", Type::kInteger},
           {"performance", Type::kString},
           {"fleecing", Type::kString},
           {"lockwait", Type::kInteger},
           {"stopwait", Type::kInteger},
           {"maxfiles", Type::kInteger},
           {"prune-backups", Type::kString},
           {"remove", Type::kBoolean},
           {"pool", Type::kString},
           {"notes-template", Type::kString},
           {"protected", Type::kBoolean},
           {"pbs-change-detection-mode", Type::kEnum, false, "legacy, data, metadata"},
           {"stdout", Type::kBoolean}}};
}

// pve-container's API2/LXC.pm create_vm (a restore with restore=1): its own parameters and the
// container's options.
Route CreateContainer() {
  return {"lxc/create",
          {kNode,
           kVmid,
           {"ostemplate", Type::kString, true},
           {"password", Type::kString},
           {"storage", Type::kStorage},
           {"force", Type::kBoolean},
           {"restore", Type::kBoolean},
           {"unique", Type::kBoolean},
           {"pool", Type::kString},
           {"ignore-unpack-errors", Type::kBoolean},
           {"ssh-public-keys", Type::kString},
           {"bwlimit", Type::kNumber},
           {"start", Type::kBoolean}},
          true};
}

// The routes of pve-container's API2/LXC.pm, LXC/Status.pm, pve-manager's Cluster.pm, Tasks.pm
// and VZDump.pm and pve-storage's Storage/Content.pm that zlh-sim serves (the config PUT and
// resize check their own: sim_proxmox_config.cc).
const std::vector<Route>& Routes() {
  static const std::vector<Route> kRoutes = {
      {"node", {kNode}},
      {"lxc", {kNode, kVmid}},
      {"cluster/resources", {{"type", Type::kEnum, false, "vm, storage, node, sdn"}}},
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
      CreateContainer(),
      Vzdump(),
      {"storage/content",
       {kNode,
        {"storage", Type::kStorage, true},
        {"content", Type::kStorageContent},
        {"vmid", Type::kVmid}}},
  };
  return kRoutes;
}

// Proxmox's integer (PVE::JSONSchema::is_integer) and number, and the formats pve-vmid,
// pve-node, dns-name and pve-storage-id; pve-storage-content's content types.
const std::regex kInteger("\\s*[+-]?[0-9]+\\s*");
const std::regex kNumber("\\s*[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)\\s*");
const std::regex kVmidFormat("[1-9][0-9]{2,8}");
const std::regex kNodeFormat("[a-zA-Z0-9]([a-zA-Z0-9\\-]*[a-zA-Z0-9])?");
const std::regex kDnsFormat(
    "([a-zA-Z0-9]([a-zA-Z0-9\\-]*[a-zA-Z0-9])?\\.)*[A-Za-z0-9]([A-Za-z0-9\\-]*[A-Za-z0-9])?");
const std::regex kStorageFormat("[a-zA-Z][a-zA-Z0-9\\-_.]*[a-zA-Z0-9]");
const std::set<std::string> kContentTypes = {"images", "rootdir", "vztmpl", "iso",
                                             "backup", "snippets", "none",  "import"};

bool Matches(const std::string& value, const std::regex& pattern) {
  return std::regex_match(value, pattern);
}

// A format check's refusal: "" when `value` has the format, else what Proxmox says, ending with
// the newline its format checks die with.
std::string FormatProblem(const std::string& value, const std::regex& format,
                          const std::string& says) {
  return Matches(value, format) ? "" : "invalid format - " + says + "\n";
}

// pve-vmid-list: each of the list's IDs (PVE::Tools::split_list: separated by commas, semicolons
// or white space) a VM ID; an empty list is one.
std::string VmidListProblem(const std::string& value) {
  std::string spaced = value;
  std::replace_if(spaced.begin(), spaced.end(), [](char c) { return c == ',' || c == ';'; }, ' ');
  std::istringstream in(spaced);
  for (std::string vmid; in >> vmid;) {
    std::string problem =
        FormatProblem(vmid, kVmidFormat, "value does not look like a valid VM ID");
    if (!problem.empty()) return problem;
  }
  return "";
}

// Whether `value` is one of `choices` ("a, b, c").
bool IsChoice(const std::string& value, const std::string& choices) {
  std::istringstream in(choices);
  for (std::string choice; std::getline(in >> std::ws, choice, ',');) {
    if (choice == value) return true;
  }
  return false;
}

// What Proxmox says of `value` as parameter `p`; "" when it is sound.
std::string Problem(const Param& p, const std::string& value) {
  auto type_check = [&](const char* name) {
    return "type check ('" + std::string(name) + "') failed - got '" + value + "'";
  };
  switch (p.type) {
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
    case Type::kVmidList:
      return VmidListProblem(value);
    case Type::kStorage:
      return FormatProblem(value, kStorageFormat,
                           "storage ID '" + value + "' contains illegal characters");
    case Type::kStorageContent:
      return kContentTypes.count(value)
                 ? ""
                 : "invalid format - invalid content type '" + value + "'\n";
    case Type::kEnum:
      return IsChoice(value, p.choices)
                 ? ""
                 : "value '" + value + "' does not have a value in the enumeration '" +
                       p.choices + "'";
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
      } else if (std::string problem = Problem(p, it->second); !problem.empty()) {
        errors[p.name] = problem;
      }
    }
    for (const auto& [name, value] : params) {
      bool known = false;
      for (const Param& p : r.params) known |= name == p.name;
      if (known) continue;
      std::string problem = r.container_options ? ContainerOptionProblem(name, value)
                                                : std::string(kNotInSchema);
      if (!problem.empty()) errors[name] = problem;
    }
  }
  return errors;
}

}  // namespace zlh::sim
