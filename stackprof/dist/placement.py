"""Where a rank runs (per-rank side): the CPUs it may use, their NUMA nodes, its GPU's PCI address,
NUMA node and PCIe link (sysfs). This is evidence when a rank is slower than its peers: a GPU on
the other socket, a link trained down, a rank squeezed onto fewer CPUs. Read from /proc and /sys
only; standard library; Python 3.8 syntax."""
import os
import socket

NODE_SYS = "/sys/devices/system/node"
PCI_SYS = "/sys/bus/pci/devices"
GT_PER_GEN = {2.5: 1, 5.0: 2, 8.0: 3, 16.0: 4, 32.0: 5, 64.0: 6}


def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def cpu_list(text):
    """'0-3,8' -> [0, 1, 2, 3, 8]; None for missing or malformed text."""
    if not text:
        return None
    cpus = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = part.split("-", 1)
                cpus.extend(range(int(lo), int(hi) + 1))
            elif part:
                cpus.append(int(part))
    except ValueError:
        return None
    return cpus


def affinity():
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def numa_nodes_of(cpus, root=NODE_SYS):
    """NUMA nodes whose CPUs this rank may run on (None when the kernel shows no NUMA topology)."""
    if cpus is None or not os.path.isdir(root):
        return None
    wanted, nodes = set(cpus), []
    for name in sorted(os.listdir(root)):
        if name.startswith("node") and name[4:].isdigit():
            members = cpu_list(_read(os.path.join(root, name, "cpulist"))) or []
            if wanted.intersection(members):
                nodes.append(int(name[4:]))
    return nodes or None


def host_key():
    """What makes two ranks share a machine: the host name and this boot of its kernel."""
    return "%s/%s" % (socket.gethostname(), _read("/proc/sys/kernel/random/boot_id") or "")


def gpu(torch, device, root=PCI_SYS):
    """Name, PCI bus id, NUMA node and PCIe link of a CUDA device (None values where unknown)."""
    props = torch.cuda.get_device_properties(device)
    bus = _bus_id(props)
    out = {"name": props.name, "pci_bus_id": bus, "memory_bytes": getattr(props, "total_memory", None),
           "numa_node": None, "pcie": None}
    if bus:
        path = os.path.join(root, bus.lower())
        node = _read(os.path.join(path, "numa_node"))
        out["numa_node"] = int(node) if node and node.lstrip("-").isdigit() and int(node) >= 0 else None
        out["pcie"] = pcie_link(path)
    return out


def _bus_id(props):
    """'0000:3b:00.0' from the device properties (torch >= 2.x exposes the PCI domain/bus/device)."""
    bus, dev = getattr(props, "pci_bus_id", None), getattr(props, "pci_device_id", None)
    domain = getattr(props, "pci_domain_id", 0) or 0
    if bus is None or dev is None:
        return None
    return "%04x:%02x:%02x.0" % (int(domain), int(bus), int(dev))


def pcie_link(path):
    """Current and maximum PCIe generation and width from sysfs ('16.0 GT/s PCIe' -> gen 4)."""
    def gen(text):
        try:
            return GT_PER_GEN.get(float((text or "").split()[0]))
        except (ValueError, IndexError):
            return None

    def width(text):
        try:
            return int(text) if text else None
        except ValueError:
            return None
    link = {"gen": gen(_read(os.path.join(path, "current_link_speed"))),
            "width": width(_read(os.path.join(path, "current_link_width"))),
            "gen_max": gen(_read(os.path.join(path, "max_link_speed"))),
            "width_max": width(_read(os.path.join(path, "max_link_width")))}
    return link if any(v is not None for v in link.values()) else None


def describe(torch, device):
    """The placement facts of this rank."""
    cpus = affinity()
    out = {"cpus": cpus, "cpu_count": len(cpus) if cpus is not None else None, "numa_nodes": numa_nodes_of(cpus),
           "gpu": None}
    if device.type == "cuda":
        try:
            out["gpu"] = gpu(torch, device)
        except Exception as exc:
            out["gpu"] = {"error": ("%s: %s" % (type(exc).__name__, exc))[:300]}
    return out
