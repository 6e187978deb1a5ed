#!/usr/bin/env python3
"""A small WebSocket client (Python standard library only) for voxgate's event stream.

Connects to ws://HOST:PORT/PATH (RFC 6455 client handshake, with the bearer token in the
Authorization header), prints every text message on its own line (JSON, one event each),
answers pings, and stops when told to:

  wsclient.py --token voxgate-demo-token ws://127.0.0.1:9070/v1/events
  wsclient.py --token T --until ended --timeout 30 --out events.jsonl ws://127.0.0.1:19070/v1/events

  --until TYPE     exit 0 after the first message whose "type" is TYPE (e.g. ended)
  --count N        exit 0 after N messages
  --timeout S      exit 3 when the stop condition has not come after S seconds
  --out FILE       append the messages to FILE (flushed per message) instead of stdout
  --query-token    send the token as ?token= instead of a header (as a browser must)

Exit status: 0 on a stop condition or when voxgate closes the stream normally; 1 on a
handshake refusal (the HTTP status line is printed to stderr, e.g. 401); 2 when the stream
closed with any other code (4000: the follower lagged); 3 on the timeout.
"""

import argparse
import base64
import hashlib
import json
import os
import select
import socket
import struct
import sys
import time
import urllib.parse

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Closed(Exception):
    def __init__(self, code, reason):
        super().__init__(f"closed {code} {reason}")
        self.code = code
        self.reason = reason


def connect(url, token, query_token, timeout):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "ws":
        sys.exit(f"wsclient: only ws:// URLs, not {url}")
    host, port = parts.hostname, parts.port or 80
    path = parts.path or "/"
    query = parts.query
    if token and query_token:
        query = (query + "&" if query else "") + "token=" + urllib.parse.quote(token, safe="")
    if query:
        path += "?" + query
    sock = socket.create_connection((host, port), timeout=timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if token and not query_token:
        lines.append(f"Authorization: Bearer {token}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed during the handshake")
        head += chunk
    head, rest = head.split(b"\r\n\r\n", 1)
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    if " 101 " not in status + " ":
        print(f"wsclient: handshake refused: {status}", file=sys.stderr)
        sys.exit(1)
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    if f"sec-websocket-accept: {accept}".lower().encode() not in head.lower():
        sys.exit("wsclient: bad Sec-WebSocket-Accept")
    return sock, rest


class Reader:
    def __init__(self, sock, buffered):
        self.sock = sock
        self.buf = buffered

    def read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed(1006, "connection lost")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        b0, b1 = self.read(2)
        fin, opcode = b0 & 0x80, b0 & 0x0F
        masked, length = b1 & 0x80, b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self.read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self.read(8))
        mask = self.read(4) if masked else None
        payload = self.read(length)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return bool(fin), opcode, payload


def send_frame(sock, opcode, payload=b""):
    # Client frames are masked (RFC 6455 section 5.3).
    mask = os.urandom(4)
    header = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        header += bytes([0x80 | n])
    elif n < 65536:
        header += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", n)
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def next_message(sock, reader, deadline):
    """The next text message, or None when the deadline passes first. Answers pings;
    raises Closed on a close frame. Waits for data with select, so a frame is only
    started once bytes are there, and then read whole."""
    parts = []
    while True:
        if not reader.buf:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([sock], [], [], wait)
            if not ready:
                return None
        fin, opcode, payload = reader.frame()
        if opcode == 0x9:
            send_frame(sock, 0xA, payload)
        elif opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            try:
                send_frame(sock, 0x8, payload[:2])
            except OSError:
                pass
            raise Closed(code, payload[2:].decode(errors="replace"))
        elif opcode in (0x1, 0x0):
            parts.append(payload)
            if fin:
                return b"".join(parts).decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--token")
    ap.add_argument("--query-token", action="store_true")
    ap.add_argument("--until")
    ap.add_argument("--count", type=int)
    ap.add_argument("--timeout", type=float)
    ap.add_argument("--out")
    args = ap.parse_args()

    deadline = time.monotonic() + args.timeout if args.timeout else None
    sock, rest = connect(args.url, args.token, args.query_token, 10)
    out = open(args.out, "a", encoding="utf-8") if args.out else sys.stdout
    reader = Reader(sock, rest)
    seen = 0
    try:
        while True:
            text = next_message(sock, reader, deadline)
            if text is None:
                print(f"wsclient: timeout after {args.timeout} s ({seen} messages)", file=sys.stderr)
                return 3
            print(text, file=out, flush=True)
            seen += 1
            try:
                kind = json.loads(text).get("type")
            except ValueError:
                kind = None
            if (args.until and kind == args.until) or (args.count and seen >= args.count):
                send_frame(sock, 0x8, struct.pack("!H", 1000))
                return 0
    except Closed as closed:
        print(f"wsclient: closed by voxgate: {closed.code} {closed.reason}", file=sys.stderr)
        return 0 if closed.code in (1000, 1001) else 2
    finally:
        if out is not sys.stdout:
            out.close()
        sock.close()


if __name__ == "__main__":
    sys.exit(main())
