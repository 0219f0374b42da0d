// The simulated Proxmox's container configuration: GET and PUT /nodes/{node}/lxc/{vmid}/config
// (form-encoded; a bad value is 400 {"data": null, "errors": {param: message}}, as Proxmox's
// parameter verification answers) and PUT .../resize (grows the root disk; shrinking, or a size it
// has already, is refused). A locked container refuses both (sim_proxmox_tasks.cc).
// Call names: proxmox.config (GET), proxmox.configure (PUT), proxmox.resize.
#include <cmath>
#include <cstdlib>
#include <optional>
#include <regex>
#include <sstream>

#include "base/ipv4.h"
#include "sim/sim_state.h"

namespace zlh::sim {
namespace {

// What a clone of the templates has before it is configured.
const std::map<std::string, std::string>& TemplateConfig() {
  static const std::map<std::string, std::string> kConfig = {
      {"arch", "amd64"}, {"cores", "1"}, {"memory", "512"}, {"swap", "512"}, {"ostype", "debian"}};
  return kConfig;
}

bool IsInt(const std::string& v, long min, long max) {
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
    return false;
  long n = std::stol(v);
  return n >= min && n <= max;
}

// Proxmox's check of a net0 value; "" when it is sound.
std::string Net0Problem(const std::string& value) {
  std::istringstream in(value);
  bool named = false;
  for (std::string part; std::getline(in, part, ',');) {
    size_t eq = part.find('=');
    if (eq == std::string::npos) return "invalid format - missing '=' in '" + part + "'";
    std::string key = part.substr(0, eq), v = part.substr(eq + 1);
    if (key == "name") {
      named = !v.empty();
    } else if (key == "ip") {
      size_t slash = v.find('/');
      bool cidr = slash != std::string::npos && ParseIpv4(v.substr(0, slash)) &&
                  IsInt(v.substr(slash + 1), 0, 32);
      if (v != "dhcp" && v != "manual" && !cidr) return "invalid format - ip: '" + v + "'";
    } else if (key == "gw") {
      if (!ParseIpv4(v)) return "invalid format - gw: '" + v + "' is not a valid IPv4 address";
    } else if (key == "tag") {
      if (!IsInt(v, 1, 4094)) return "invalid format - tag: value must be 1-4094";
    } else if (key == "firewall") {
      if (v != "0" && v != "1") return "invalid format - firewall: type check ('boolean') failed";
    } else if (key != "bridge" && key != "hwaddr" && key != "type" && key != "mtu" &&
               key != "rate") {
      return "invalid format - format error: " + key + ": property is not defined in schema";
    }
  }
  return named ? "" : "invalid format - name: property is missing and it is not optional";
}

}  // namespace

std::string ContainerOptionProblem(const std::string& key, const std::string& value) {
  static const std::regex kTags(
      "^[a-zA-Z0-9_][a-zA-Z0-9_+.\\-]*(;[a-zA-Z0-9_][a-zA-Z0-9_+.\\-]*)*$");
  if (key == "cores")
    return IsInt(value, 1, 8192) ? "" : "type check ('integer') failed - got '" + value + "'";
  if (key == "memory")
    return IsInt(value, 16, 1 << 30) ? "" : "value must have a minimum value of 16";
  if (key == "swap")
    return IsInt(value, 0, 1 << 30) ? "" : "type check ('integer') failed - got '" + value + "'";
  if (key == "onboot")
    return value == "0" || value == "1" ? ""
                                        : "type check ('boolean') failed - got '" + value + "'";
  if (key == "net0") return Net0Problem(value);
  if (key == "tags")
    return std::regex_match(value, kTags)
               ? ""
               : "invalid format - value does not match the regex pattern";
  if (key == "nameserver") {
    std::istringstream in(value);
    for (std::string ns; in >> ns;) {
      if (!ParseIpv4(ns) && ns.find(':') == std::string::npos)
        return "invalid format - value '" + ns + "' is not an IP address";
    }
    return "";
  }
  if (key == "description" || key == "digest") return "";
  return kNotInSchema;
}

namespace {

// The new size in GB that `size` ("20G", "+4G") asks for a disk of `current` GB; nullopt when
// malformed.
std::optional<double> NewSize(const std::string& size, double current) {
  static const std::regex kSize("^(\\+)?([0-9]+(\\.[0-9]+)?)([KMGT])?$");
  std::smatch m;
  if (!std::regex_match(size, m, kSize)) return std::nullopt;
  double value = std::strtod(m[2].str().c_str(), nullptr);
  std::string unit = m[4].str();
  double gb = unit == "T"   ? value * 1024
              : unit == "G" ? value
              : unit == "M" ? value / 1024
              : unit == "K" ? value / (1024 * 1024)
                            : value / (1024.0 * 1024 * 1024);
  return m[1].matched ? current + gb : gb;
}

std::string FormatGb(int64_t gb) { return std::to_string(gb) + "G"; }

}  // namespace

json::object ConfigOf(const Container& c) {
  json::object out;
  for (const auto& [key, value] : TemplateConfig()) out[key] = value;
  for (const auto& [key, value] : c.config) out[key] = value;
  for (const char* number : {"cores", "memory", "swap", "onboot"}) {
    if (out.contains(number)) out[number] = std::stoll(std::string(out[number].as_string()));
  }
  out["hostname"] = c.hostname;
  out["rootfs"] = "local:" + std::to_string(c.vmid) + "/vm-" + std::to_string(c.vmid) +
                  "-disk-0.raw,size=" + FormatGb(c.disk_gb);
  return out;
}

HttpReply World::State::ContainerConfig(const HttpCall& call, const std::string& node, int64_t vmid,
                                        const std::string& what,
                                        const std::map<std::string, std::string>& form,
                                        bool* changed) {
  bool read = what == "config" && call.method == "GET";
  if (!read && call.method != "PUT")
    return PveError(501, "Method '" + call.method + "' not implemented");
  std::string name = read               ? "proxmox.config"
                     : what == "config" ? "proxmox.configure"
                                        : "proxmox.resize";
  // Parameters are verified before anything else, as Proxmox does.
  json::object errors;
  if (read) {
    std::map<std::string, std::string> params = call.query;
    params["node"] = node;
    params["vmid"] = std::to_string(vmid);
    errors = PveParamErrors("lxc/config", params);
  } else if (what == "config") {
    for (const auto& [key, value] : form) {
      if (std::string problem = ContainerOptionProblem(key, value); !problem.empty()) {
        errors[key] = problem;
      }
    }
  } else if (what == "resize") {
    if (form.count("disk") == 0 || form.at("disk") != "rootfs") {
      errors["disk"] = "value '" + (form.count("disk") ? form.at("disk") : "") +
                       "' does not have a value in the enumeration 'rootfs, mp0, ...'";
    }
    if (form.count("size") == 0 || !NewSize(form.at("size"), 0)) {
      errors["size"] = "value does not match the regex pattern";
    }
  }
  if (!errors.empty()) return PveBadParams(std::move(errors));
  int64_t delay = 0;
  if (auto early = Begin(name, vmid, !read, call, &delay, changed)) return *early;
  auto it = containers.find(vmid);
  if (it == containers.end() || it->second.node != node) {
    return PveError(500,
                    "Configuration file 'nodes/" + node + "/lxc/" + std::to_string(vmid) +
                        ".conf' does not exist",
                    delay);
  }
  Container& c = it->second;
  if (read) {
    json::object config = ConfigOf(c);
    auto lock = locks.find(vmid);
    if (lock != locks.end() && lock->second.what != "file") config["lock"] = lock->second.what;
    return Pve(std::move(config), delay);
  }
  if (auto locked = Locked(name, vmid, node, delay, changed)) return *locked;
  if (what == "config") {
    for (const auto& [key, value] : form) {
      if (key != "digest") c.config[key] = value;
    }
    return Pve(nullptr, delay);
  }
  double size = *NewSize(form.at("size"), static_cast<double>(c.disk_gb));
  if (size < static_cast<double>(c.disk_gb))
    return PveError(500, "unable to shrink disk size", delay);
  if (size == static_cast<double>(c.disk_gb)) {
    return PveError(500, "disk is already at specified size", delay);
  }
  c.disk_gb = static_cast<int64_t>(std::ceil(size));
  return Pve(json::value(NewTask(node, "resize", vmid)), delay);
}

}  // namespace zlh::sim
