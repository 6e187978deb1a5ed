#!/usr/bin/env python3
"""A UDP forwarder that loses packets on purpose, between a party's RTP and voxgate.

  lossy_forwarder.py --front IP:PORT --back IP:PORT --party IP:PORT
                     [--drop-every N] [--seconds S] [--summary FILE]

The party's SDP names FRONT as its media address, so voxgate sends it RTP there.
What arrives on FRONT goes on from BACK to PARTY (the party's real RTP port; SIPp
with -rtp_echo sends it back to BACK). What arrives on BACK goes on from FRONT to
the last address that sent to FRONT (voxgate's port for the leg), except every
N-th RTP packet (counted in that direction only), which is dropped. Non-RTP
datagrams (RTCP: second octet 192-223) pass both ways and are not counted.

Stops by itself after S seconds (default 20), or after 3 s without a datagram once
something has passed, and writes a JSON summary (to FILE, else stdout):
{"to_party": n, "to_voxgate": n, "dropped": n, "rtp_back": n}.
Standard library only.
"""

import argparse
import json
import select
import socket
import sys
import time


def addr(text: str):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def is_rtp(data: bytes) -> bool:
    return len(data) >= 12 and data[0] >> 6 == 2 and not 192 <= data[1] <= 223


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--front", required=True, help="IP:PORT the party's SDP names (voxgate sends here)")
    p.add_argument("--back", required=True, help="IP:PORT to talk to the party from")
    p.add_argument("--party", required=True, help="the party's real RTP IP:PORT")
    p.add_argument("--drop-every", type=int, default=10)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--idle", type=float, default=3.0)
    p.add_argument("--summary")
    a = p.parse_args()

    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(addr(a.front))
    back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    back.bind(addr(a.back))
    party = addr(a.party)
    voxgate = None
    counts = {"to_party": 0, "to_voxgate": 0, "dropped": 0, "rtp_back": 0}
    print("forwarding", flush=True)
    deadline = time.monotonic() + a.seconds
    last = None
    while True:
        now = time.monotonic()
        if now >= deadline or (last is not None and now - last >= a.idle):
            break
        ready, _, _ = select.select([front, back], [], [], min(0.2, deadline - now))
        for sock in ready:
            data, src = sock.recvfrom(65535)
            last = time.monotonic()
            if sock is front:
                voxgate = src
                back.sendto(data, party)
                counts["to_party"] += 1
                continue
            if voxgate is None:
                continue
            if is_rtp(data):
                counts["rtp_back"] += 1
                if counts["rtp_back"] % a.drop_every == 0:
                    counts["dropped"] += 1
                    continue
            front.sendto(data, voxgate)
            counts["to_voxgate"] += 1
    text = json.dumps(counts)
    if a.summary:
        with open(a.summary, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        print(text)
    sys.exit(0)


if __name__ == "__main__":
    main()
