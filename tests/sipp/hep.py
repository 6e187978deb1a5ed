#!/usr/bin/env python3
"""A small HEP v3 collector for the SIPp suite (what Homer's heplify-server reads).

  hep.py listen PORT OUT [--seconds S]
      Receives HEP v3 packets on 127.0.0.1:PORT (UDP) for at most S seconds
      (default 30) or until killed, decodes their chunks and appends one JSON
      object a packet to OUT: family, proto, src, dst ("ip:port"), time,
      proto_type, capture_id and the SIP payload's first line and Call-ID.
      A packet that is not HEP v3 or whose chunks do not add up is written as
      {"error": ...}.

  hep.py check OUT NUMBER --voxgate IP:PORT --caller IP:PORT --callee IP:PORT
      The call to NUMBER went through voxgate and voxgate exported it: the
      caller's INVITE from the caller to voxgate, voxgate's INVITE from voxgate
      to the callee, and the BYE of each of those two Call-IDs, each with
      these addresses, UDP, protocol type 1 (SIP). Exit 0, or one line saying
      what is missing.
"""

import argparse
import json
import socket
import struct
import sys
import time


def decode(packet: bytes) -> dict:
    if len(packet) < 6 or packet[:4] != b"HEP3":
        return {"error": "not HEP3"}
    (total,) = struct.unpack("!H", packet[4:6])
    if total != len(packet):
        return {"error": f"length {total} but {len(packet)} bytes"}
    chunks = {}
    i = 6
    while i < len(packet):
        if i + 6 > len(packet):
            return {"error": "truncated chunk header"}
        vendor, kind, length = struct.unpack("!HHH", packet[i:i + 6])
        if length < 6 or i + length > len(packet):
            return {"error": f"chunk {kind} of length {length} overruns"}
        if vendor == 0:
            chunks[kind] = packet[i + 6:i + length]
        i += length
    try:
        family = chunks[1][0]
        if family == 2:
            src_ip = socket.inet_ntop(socket.AF_INET, chunks[3])
            dst_ip = socket.inet_ntop(socket.AF_INET, chunks[4])
        else:
            src_ip = "[" + socket.inet_ntop(socket.AF_INET6, chunks[5]) + "]"
            dst_ip = "[" + socket.inet_ntop(socket.AF_INET6, chunks[6]) + "]"
        (sport,) = struct.unpack("!H", chunks[7])
        (dport,) = struct.unpack("!H", chunks[8])
        (secs,) = struct.unpack("!I", chunks[9])
        (micros,) = struct.unpack("!I", chunks[10])
        (capture_id,) = struct.unpack("!I", chunks[12])
        payload = chunks[15].decode("utf-8", "replace")
    except (KeyError, IndexError, struct.error, ValueError) as e:
        return {"error": f"missing or bad chunk: {e!r}"}
    lines = payload.split("\r\n")
    call_id = next((l.split(":", 1)[1].strip() for l in lines
                    if l.lower().startswith(("call-id:", "i:"))), None)
    return {
        "family": family, "proto": chunks[2][0], "src": f"{src_ip}:{sport}",
        "dst": f"{dst_ip}:{dport}", "time": secs + micros / 1e6, "proto_type": chunks[11][0],
        "capture_id": capture_id, "first_line": lines[0], "call_id": call_id,
    }


def cmd_listen(a) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", a.port))
    s.settimeout(0.2)
    end = time.monotonic() + a.seconds
    with open(a.out, "a", encoding="utf-8") as out:
        while time.monotonic() < end:
            try:
                packet, _ = s.recvfrom(65535)
            except socket.timeout:
                continue
            out.write(json.dumps(decode(packet)) + "\n")
            out.flush()


def cmd_check(a) -> None:
    records = []
    with open(a.out, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if "error" in r:
                sys.exit(f"a packet that is not HEP v3: {r['error']}")
            records.append(r)

    def find(what, method, src, dst, call_id=None, number=None):
        for r in records:
            if not r["first_line"].startswith(method + " "):
                continue
            if number and f"sip:{a.number}@" not in r["first_line"]:
                continue
            if call_id and r["call_id"] != call_id:
                continue
            if r["src"] == src and r["dst"] == dst and r["proto"] == 17 and r["proto_type"] == 1:
                return r
        seen = [(r["first_line"][:40], r["src"], r["dst"]) for r in records
                if r["first_line"].startswith(method + " ")]
        sys.exit(f"no HEP packet of {what} ({method} {src} -> {dst}) among {len(records)}; "
                 f"{method}s seen: {seen[:6]}")

    invite_in = find("the caller's INVITE", "INVITE", a.caller, a.voxgate, number=True)
    invite_out = find("voxgate's INVITE to the callee", "INVITE", a.voxgate, a.callee, number=True)
    if invite_in["call_id"] == invite_out["call_id"]:
        sys.exit("both legs have one Call-ID: not a B2BUA's two legs")
    find("the caller's BYE", "BYE", a.caller, a.voxgate, call_id=invite_in["call_id"])
    find("voxgate's BYE to the callee", "BYE", a.voxgate, a.callee, call_id=invite_out["call_id"])
    print(f"{len(records)} HEP packets; INVITE and BYE of both legs with their addresses")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("listen")
    c.add_argument("port", type=int)
    c.add_argument("out")
    c.add_argument("--seconds", type=float, default=30)
    c = sub.add_parser("check")
    c.add_argument("out")
    c.add_argument("number")
    c.add_argument("--voxgate", required=True)
    c.add_argument("--caller", required=True)
    c.add_argument("--callee", required=True)
    a = p.parse_args()
    {"listen": cmd_listen, "check": cmd_check}[a.cmd](a)


if __name__ == "__main__":
    main()
