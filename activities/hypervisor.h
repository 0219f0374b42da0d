// Hypervisor: the container host interface the workflows use (Proxmox VE in production, zlh-sim's
// Proxmox in tests). Every mutating call takes the step's CallContext: its fencing token goes out
// with the request, and the call is idempotent, so a retry after a crash is safe.
//
// Thread-safety: implementations may be shared; calls complete on the caller's executor.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace zlh::activities {

// What a step hands an activity (from workflows::StepInfo).
struct CallContext {
  std::string idempotency_key;  // "<workflowId>:<step>"
  uint64_t fencing_token = 0;   // 0: none
};

struct HostNode {
  std::string name;
  std::string status = "online";  // online, offline, unknown (as Proxmox says)
  double cpu = 0;      // load, 0..1 per core
  int64_t mem = 0;     // bytes in use
  int64_t maxmem = 0;  // bytes; 0 when not told (offline, or no Sys.Audit on the node)
  bool online() const { return status == "online"; }
};

struct Guest {
  int64_t vmid = 0;
  std::string node;
  std::string status;  // running, stopped; "unknown" while Proxmox's status cache is behind
  std::string name;    // the hostname; "" when not known yet (Guests() asks the config first)
  std::string type;    // lxc, qemu
  bool is_template = false;  // a template (cloned from, never run)
};

// A network interface of a running container as Proxmox reports it (GET .../interfaces): its
// name ("eth0", "lo"), MAC address, and addresses with their prefix length ("10.20.1.10/22"),
// empty while it has none (an interface on DHCP before its lease).
struct GuestInterface {
  std::string name;
  std::string hwaddr;
  std::string inet;   // IPv4
  std::string inet6;  // IPv6
};

// A container's configuration as Proxmox reports it: key → value ("cores" → "2", "net0" →
// "name=eth0,bridge=vmbr1,ip=10.20.1.10/22,gw=10.20.0.1,firewall=1", "rootfs" →
// "local:101/vm-101-disk-0.raw,size=8G").
using GuestConfig = std::map<std::string, std::string>;

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  // Every node of the cluster, offline ones included (they take no server).
  virtual boost::asio::awaitable<Result<std::vector<HostNode>>> Nodes() = 0;
  // Every guest, whoever made it: the VMIDs in use.
  virtual boost::asio::awaitable<Result<std::vector<Guest>>> Guests() = 0;
  // Clones template `template_vmid` (on `template_node`) into container `vmid` named `hostname`
  // on `node` (a full clone, onto the configured container storage if any), and waits for it; the
  // node the container is on. A container with this VMID and hostname already there (an earlier
  // attempt got through) is success, with its own node; the VMID used by another hostname is
  // kFailedPrecondition.
  virtual boost::asio::awaitable<Result<std::string>> Clone(const CallContext& ctx,
                                                            std::string template_node,
                                                            int64_t template_vmid, std::string node,
                                                            int64_t vmid, std::string hostname) = 0;
  // GET /nodes/{node}/lxc/{vmid}/config. kNotFound-like errors per the API when it is absent.
  virtual boost::asio::awaitable<Result<GuestConfig>> Config(std::string node, int64_t vmid) = 0;
  // PUT /nodes/{node}/lxc/{vmid}/config with `changes` (setting the same value again is harmless).
  virtual boost::asio::awaitable<Status> SetConfig(const CallContext& ctx, std::string node,
                                                   int64_t vmid, GuestConfig changes) = 0;
  // PUT /nodes/{node}/lxc/{vmid}/resize disk=rootfs size=<size_gb>G, and waits. Proxmox refuses
  // to shrink a disk: grow only. A disk already of that size is success.
  virtual boost::asio::awaitable<Status> ResizeRootfs(const CallContext& ctx, std::string node,
                                                      int64_t vmid, uint32_t size_gb) = 0;
  // Start and Stop are idempotent: a container already in the state asked for is success.
  virtual boost::asio::awaitable<Status> Start(const CallContext& ctx, std::string node,
                                               int64_t vmid) = 0;
  virtual boost::asio::awaitable<Status> Stop(const CallContext& ctx, std::string node,
                                              int64_t vmid) = 0;
  virtual boost::asio::awaitable<Status> Reboot(const CallContext& ctx, std::string node,
                                                int64_t vmid) = 0;
  // GET /nodes/{node}/lxc/{vmid}/interfaces: the interfaces of a running container as it sees
  // them (its DHCP lease included); none while it is stopped.
  virtual boost::asio::awaitable<Result<std::vector<GuestInterface>>> Interfaces(std::string node,
                                                                                 int64_t vmid) = 0;
  // "running" or "stopped"; kNotFound when there is no such container.
  virtual boost::asio::awaitable<Result<std::string>> PowerState(std::string node,
                                                                 int64_t vmid) = 0;
  // Destroys container `vmid` only if it is named `hostname`; an absent one is success, one with
  // another name is kFailedPrecondition (it is not ours).
  virtual boost::asio::awaitable<Status> Destroy(const CallContext& ctx, std::string node,
                                                 int64_t vmid, std::string hostname) = 0;
};

}  // namespace zlh::activities
