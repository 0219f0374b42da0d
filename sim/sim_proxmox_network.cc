// The simulated Proxmox's view into a container's network: GET /nodes/{node}/lxc/{vmid}/interfaces
// as pve-container answers it (PVE::LXC::get_interfaces, `ip --json a` inside the container): null
// while the container is stopped; else lo and, with a net0, its interface with net0's address —
// or, on net0 ip=dhcp, the address the simulated DHCP server leased it at start (lowest free of
// 127.2.0.10-127.2.255.250/16, kept across restarts, freed with the container). The route and its
// checks are in sim_proxmox_guests.cc (call name proxmox.interfaces).
#include <cctype>
#include <cstdio>
#include <sstream>

#include "base/ipv4.h"
#include "sim/sim_state.h"

namespace zlh::sim {
namespace {

constexpr uint32_t kLeaseFirst = (127u << 24) | (2u << 16) | 10u;                // 127.2.0.10
constexpr uint32_t kLeaseLast = (127u << 24) | (2u << 16) | (255u << 8) | 250u;  // 127.2.255.250
constexpr int kLeasePrefix = 16;

// The value of `key` in a property string ("name=eth0,bridge=vmbr1,ip=dhcp"), "" when absent.
std::string PropertyOf(const std::string& net, const std::string& key) {
  std::istringstream in(net);
  for (std::string part; std::getline(in, part, ',');) {
    if (part.rfind(key + "=", 0) == 0) return part.substr(key.size() + 1);
  }
  return "";
}

// The MAC `ip` shows (lower case): net0's hwaddr, else one under Proxmox's prefix BC:24:11 made
// from the VMID.
std::string MacOf(const std::string& net0, int64_t vmid) {
  std::string mac = PropertyOf(net0, "hwaddr");
  if (mac.empty()) {
    char made[18];
    std::snprintf(made, sizeof made, "bc:24:11:%02x:%02x:%02x",
                  static_cast<unsigned>((vmid >> 16) & 0xff),
                  static_cast<unsigned>((vmid >> 8) & 0xff), static_cast<unsigned>(vmid & 0xff));
    mac = made;
  }
  for (char& c : mac) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return mac;
}

// The link-local IPv6 address the kernel makes from `mac` (EUI-64), with its prefix.
std::string LinkLocalOf(const std::string& mac) {
  unsigned b[6] = {};
  if (std::sscanf(mac.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
    return "";
  char out[40];
  std::snprintf(out, sizeof out, "fe80::%x:%x:%x:%x/64", ((b[0] ^ 2u) << 8) | b[1],
                (b[2] << 8) | 0xffu, 0xfe00u | b[3], (b[4] << 8) | b[5]);
  return out;
}

// One interface as `ip --json a` makes it into Proxmox's answer.
json::object InterfaceJson(const std::string& name, const std::string& mac, const std::string& inet,
                           const std::string& inet6) {
  json::object o{{"name", name}, {"hwaddr", mac}, {"hardware-address", mac}};
  json::array addresses;
  for (const auto& [family, cidr] : {std::pair{"inet", inet}, std::pair{"inet6", inet6}}) {
    if (cidr.empty()) continue;
    size_t slash = cidr.find('/');
    o[family] = cidr;
    addresses.push_back(json::object{{"ip-address-type", family},
                                     {"ip-address", cidr.substr(0, slash)},
                                     {"prefix", std::stoi(cidr.substr(slash + 1))}});
  }
  o["ip-addresses"] = std::move(addresses);
  return o;
}

}  // namespace

void World::State::Lease(int64_t vmid) {
  auto c = containers.find(vmid);
  if (c == containers.end() || leases.count(vmid)) return;
  auto net0 = c->second.config.find("net0");
  if (net0 == c->second.config.end() || PropertyOf(net0->second, "ip") != "dhcp") return;
  for (uint32_t a = kLeaseFirst; a <= kLeaseLast; ++a) {
    std::string address = FormatIpv4(a);
    bool taken = false;
    for (const auto& [other, leased] : leases) taken |= leased == address;
    if (taken) continue;
    leases[vmid] = address;
    return;
  }
}

HttpReply World::State::Interfaces(const Container& c, int64_t delay) const {
  if (c.status != "running") return Pve(nullptr, delay);
  json::array out{InterfaceJson("lo", "00:00:00:00:00:00", "127.0.0.1/8", "::1/128")};
  auto net0 = c.config.find("net0");
  if (net0 != c.config.end()) {
    std::string ip = PropertyOf(net0->second, "ip");
    auto lease = leases.find(c.vmid);
    std::string inet =
        ip == "dhcp"
            ? (lease == leases.end() ? "" : lease->second + "/" + std::to_string(kLeasePrefix))
        : ip == "manual" ? ""
                         : ip;
    std::string mac = MacOf(net0->second, c.vmid);
    std::string name = PropertyOf(net0->second, "name");
    out.push_back(InterfaceJson(name, mac, inet, LinkLocalOf(mac)));
  }
  return Pve(std::move(out), delay);
}

}  // namespace zlh::sim
