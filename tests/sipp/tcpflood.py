#!/usr/bin/env python3
"""TCP abuse for the SIPp suite: what one hostile (or broken) peer does to voxgate's
stream listeners. Every mode is bounded in connections and time.

  tcpflood.py idle --port P --bind IP --count N [--hold S]
      Opens N connections from IP (one after the other) and sends nothing. After 1.5 s
      prints "open=X closed=Y" (closed: voxgate closed or reset it), keeps the open ones
      for S seconds (default 5), then closes them. Exit 0.

  tcpflood.py slowloris --port P --bind IP [--interval S] [--max S]
      Sends an OPTIONS one byte every S seconds (default 1) and prints when voxgate
      closed the connection: "closed after T s, N of M bytes sent". Exit 0 when it was
      closed before the message was complete and within --max seconds (default 30).

  tcpflood.py silent --port P --bind IP [--max S]
      Connects and sends nothing (on a TLS port: never starts the handshake); prints when
      voxgate closed the connection. Exit 0 when closed within --max seconds.
"""

import argparse
import select
import socket
import sys
import time


def connect(bind: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((bind, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s


def is_closed(s: socket.socket) -> bool:
    """True once the peer closed (EOF) or reset the connection. Never blocks."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        return s.recv(4096, socket.MSG_PEEK) == b""
    except OSError:
        return True


def wait_closed(s: socket.socket, deadline: float) -> bool:
    while time.monotonic() < deadline:
        r, _, _ = select.select([s], [], [], max(0.0, min(0.2, deadline - time.monotonic())))
        if r and is_closed(s):
            return True
    return False


def idle(args) -> int:
    socks = []
    for _ in range(args.count):
        try:
            socks.append(connect(args.bind, args.port))
        except OSError as e:
            print(f"connect failed after {len(socks)}: {e}")
            break
    time.sleep(1.5)
    closed = [s for s in socks if is_closed(s)]
    print(f"open={len(socks) - len(closed)} closed={len(closed)}", flush=True)
    time.sleep(args.hold)
    for s in socks:
        s.close()
    return 0


def options(port: int, local) -> bytes:
    return (
        f"OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP {local[0]}:{local[1]};branch=z9hG4bK-loris\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:loris@{local[0]}>;tag=loris\r\n"
        f"To: <sip:ping@127.0.0.1:{port}>\r\n"
        "Call-ID: loris@tcpflood\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def slowloris(args) -> int:
    s = connect(args.bind, args.port)
    msg = options(args.port, s.getsockname())
    start = time.monotonic()
    sent = 0
    while sent < len(msg) and time.monotonic() - start < args.max:
        try:
            s.send(msg[sent : sent + 1])
            sent += 1
        except OSError:
            break
        if wait_closed(s, time.monotonic() + args.interval):
            break
    elapsed = time.monotonic() - start
    closed = is_closed(s) or sent < len(msg)
    print(f"closed={closed} after {elapsed:.1f} s, {sent} of {len(msg)} bytes sent")
    return 0 if closed and sent < len(msg) and elapsed < args.max else 1


def silent(args) -> int:
    s = connect(args.bind, args.port)
    start = time.monotonic()
    closed = wait_closed(s, start + args.max)
    print(f"closed={closed} after {time.monotonic() - start:.1f} s")
    return 0 if closed else 1


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["idle", "slowloris", "silent"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--hold", type=float, default=5.0)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--max", type=float, default=30.0)
    args = p.parse_args()
    return {"idle": idle, "slowloris": slowloris, "silent": silent}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
