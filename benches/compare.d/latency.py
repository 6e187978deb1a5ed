"""Added latency from a loopback capture: INVITE into the system under test -> INVITE out
of it towards the UAS, matched by the Request-URI user (the latency scenario dials
[service][call_number], and both voxgate and Kamailio keep the Request-URI user).

The capture is a classic pcap (dumpcap -P) of UDP datagrams whose payload starts with
"INVITE"; this module reads it without tshark.

    python3 latency.py CAPTURE.pcap SUT_PORT UAS_PORT    prints p50/p90/p99/max in ms
"""

from __future__ import annotations

import math
import struct
import sys
from dataclasses import dataclass

# Link types we can strip to the IP header.
ETHERNET, RAW, NULL_BSD, LINUX_SLL, LINUX_SLL2 = 1, 101, 0, 113, 276


@dataclass
class Invite:
    """One captured INVITE: when, UDP ports, and the Request-URI user."""

    t: float
    sport: int
    dport: int
    user: str


def read_pcap(path: str):
    """Yields (timestamp seconds, IP packet bytes) from a classic pcap file."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return
        magic = head[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            endian = "<"
        elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            endian = ">"
        else:
            raise ValueError(f"{path}: not a classic pcap file (use dumpcap -P)")
        nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        linktype = struct.unpack(endian + "I", head[20:24])[0] & 0x0FFFFFFF
        rec = struct.Struct(endian + "IIII")
        div = 1e9 if nano else 1e6
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            sec, frac, incl, _orig = rec.unpack(h)
            data = f.read(incl)
            if len(data) < incl:
                return
            ip = _strip_link(linktype, data)
            if ip is not None:
                yield sec + frac / div, ip


def _strip_link(linktype: int, data: bytes) -> bytes | None:
    if linktype == ETHERNET:
        if len(data) < 14:
            return None
        ethertype = int.from_bytes(data[12:14], "big")
        off = 14
        if ethertype == 0x8100 and len(data) >= 18:  # VLAN tag
            ethertype, off = int.from_bytes(data[16:18], "big"), 18
        return data[off:] if ethertype in (0x0800, 0x86DD) else None
    if linktype == RAW:
        return data
    if linktype == NULL_BSD:
        return data[4:]
    if linktype == LINUX_SLL:
        return data[16:]
    if linktype == LINUX_SLL2:
        return data[20:]
    return None


def udp_payload(ip: bytes) -> tuple[int, int, bytes] | None:
    """(source port, destination port, payload) of an IPv4/IPv6 UDP packet."""
    if not ip:
        return None
    version = ip[0] >> 4
    if version == 4:
        ihl = (ip[0] & 0x0F) * 4
        if len(ip) < ihl + 8 or ip[9] != 17:
            return None
        udp = ip[ihl:]
    elif version == 6:
        if len(ip) < 48 or ip[6] != 17:  # no extension headers on loopback SIP
            return None
        udp = ip[40:]
    else:
        return None
    sport, dport = struct.unpack(">HH", udp[:4])
    return sport, dport, udp[8:]


def invites(path: str) -> list[Invite]:
    """Every INVITE request in the capture, in capture order."""
    out = []
    for t, ip in read_pcap(path):
        u = udp_payload(ip)
        if u is None:
            continue
        sport, dport, payload = u
        if not payload.startswith(b"INVITE "):
            continue
        line = payload.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        if len(parts) < 2:
            continue
        uri = parts[1]
        colon = uri.find(":")
        at = uri.find("@")
        if colon < 0 or at < colon:
            continue
        out.append(Invite(t, sport, dport, uri[colon + 1 : at]))
    return out


def match(caps: list[Invite], sut_port: int, uas_port: int, skip_s: float = 1.0):
    """Latencies in seconds: for each Request-URI user, the first INVITE sent to the UAS
    minus the first INVITE sent to the SUT. INVITEs of the first and last `skip_s`
    seconds of the capture are left out (ramp-up and shutdown). Returns
    (latencies, calls into the SUT counted, calls not forwarded within the capture)."""
    if not caps:
        return [], 0, 0
    t_first, t_last = caps[0].t, caps[-1].t
    first_in: dict[str, float] = {}
    first_out: dict[str, float] = {}
    for c in caps:
        if c.dport == sut_port:
            first_in.setdefault(c.user, c.t)
        elif c.dport == uas_port:
            first_out.setdefault(c.user, c.t)
    lat, missing, counted = [], 0, 0
    for user, t_in in first_in.items():
        if t_in < t_first + skip_s or t_in > t_last - skip_s:
            continue
        counted += 1
        t_out = first_out.get(user)
        if t_out is None:
            missing += 1
        else:
            lat.append(t_out - t_in)
    return lat, counted, missing


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100.0 * len(s)) - 1))
    return s[k]


def summary(path: str, sut_port: int, uas_port: int) -> dict:
    """p50/p90/p99/max (ms) and counts for one capture."""
    lat, counted, missing = match(invites(path), sut_port, uas_port)
    out = {"calls": counted, "matched": len(lat), "missing": missing}
    if lat:
        for name, p in (("p50", 50), ("p90", 90), ("p99", 99)):
            out[name] = percentile(lat, p) * 1e3
        out["max"] = max(lat) * 1e3
    return out


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    print(summary(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
