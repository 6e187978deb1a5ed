"""What benches/compare reads from /proc: CPU ticks, memory, process trees, UDP drops,
and the machine description. Linux only; no third-party modules."""

from __future__ import annotations

import os
import platform
import re
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (field 3 onwards), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("latin-1")
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    return raw[raw.rfind(")") + 2 :].split()


def cpu_ticks(pids: list[int]) -> int:
    """utime + stime of every process in `pids` (all its threads), in clock ticks.
    A process that has gone contributes nothing."""
    total = 0
    for pid in pids:
        f = _stat_fields(pid)
        if f is not None:
            # fields 14 and 15 of stat(5); f[0] is field 3
            total += int(f[11]) + int(f[12])
    return total


def parent_map() -> dict[int, int]:
    """pid -> ppid for every process."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            f = _stat_fields(int(name))
            if f is not None:
                out[int(name)] = int(f[1])
    return out


def tree(root: int) -> list[int]:
    """`root` and all its descendants that exist now."""
    parents = parent_map()
    if root not in parents:
        return []
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def status_kb(pid: int, key: str) -> int:
    """A kB field of /proc/PID/status (VmRSS, VmHWM, ...); 0 if the process has gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="latin-1") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid: int) -> int:
    """Proportional set size from /proc/PID/smaps_rollup (shared pages divided among the
    processes that map them); 0 if the process has gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="latin-1") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def udp_sockets() -> list[tuple[int, int, int]]:
    """(local port, receive queue bytes, drops) of every IPv4/IPv6 UDP socket."""
    out = []
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path, encoding="latin-1") as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if len(parts) < 13:
                        continue
                    port = int(parts[1].rsplit(":", 1)[1], 16)
                    rx_queue = int(parts[4].split(":")[1], 16)
                    out.append((port, rx_queue, int(parts[12])))
        except OSError:
            pass
    return out


def udp_drops(lo: int, hi: int) -> int:
    """Kernel receive drops (socket buffer full) summed over the UDP sockets bound to a
    port in lo..=hi. Per socket and cumulative since the socket was created."""
    return sum(d for port, _, d in udp_sockets() if lo <= port <= hi)


def udp_ports_bound(lo: int, hi: int) -> list[int]:
    """Ports in lo..=hi that some UDP socket is bound to."""
    return sorted({p for p, _, _ in udp_sockets() if lo <= p <= hi})


def tcp_ports_listening(lo: int, hi: int) -> list[int]:
    """Ports in lo..=hi with a listening TCP socket."""
    out = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path, encoding="latin-1") as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if len(parts) > 3 and parts[3] == "0A":
                        port = int(parts[1].rsplit(":", 1)[1], 16)
                        if lo <= port <= hi:
                            out.add(port)
        except OSError:
            pass
    return sorted(out)


def cpu_busy_fraction(seconds: float) -> float:
    """Share of all CPUs' time spent not idle over `seconds` (0..1), from /proc/stat."""

    def snap() -> tuple[int, int]:
        with open("/proc/stat", encoding="latin-1") as f:
            vals = [int(x) for x in f.readline().split()[1:]]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
        return sum(vals), idle

    t0, i0 = snap()
    time.sleep(seconds)
    t1, i1 = snap()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


BUSY_NAMES = re.compile(
    r"^(cargo|rustc|cc1plus|cc1|ld|lld|sipp|voxgate|kamailio|rtpengine|baresip|dumpcap|tshark"
    r"|perf|valgrind|callgrind.*|memcheck.*|clippy-driver|rustdoc|rust-analyzer)$"
)


def foreign_busy_processes(exclude: set[int]) -> list[str]:
    """'pid name' of running processes that would disturb a benchmark (builds, SIPp, SIP
    servers), other than those in `exclude`."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in exclude:
            continue
        try:
            with open(f"/proc/{name}/comm", encoding="latin-1") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if BUSY_NAMES.match(comm):
            out.append(f"{name} {comm}")
    return out


def machine() -> dict[str, str]:
    """nproc, CPU model, RAM, kernel, load average."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="latin-1") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    try:
        with open("/proc/meminfo", encoding="latin-1") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "host": platform.node(),
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "load": load_average(),
    }


def load_average() -> str:
    """The three load averages, as in uptime."""
    try:
        with open("/proc/loadavg", encoding="latin-1") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"
