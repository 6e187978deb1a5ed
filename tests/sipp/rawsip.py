#!/usr/bin/env python3
"""Raw TCP/TLS probes for the SIPp suite: the cases SIPp cannot observe.

SIPp reports a connection closed by the far end as a generic failure, so the
runner uses this helper where the expected outcome *is* the close:

  rawsip.py closed   --transport tcp|tls --port P [--bind IP] [--pad N] [--silent]
      Connects (from --bind when given), sends one OPTIONS (with an N-byte
      X-Padding header when --pad is given; nothing at all with --silent, to
      see a close at accept) and waits --wait seconds.
      Exit 0 when the peer closed the connection (EOF, reset, or a failed TLS
      handshake) without sending any SIP response; 1 otherwise.

  rawsip.py response --transport tcp|tls --port P [--bind IP] [--pad N]
      The control case: exit 0 when a "SIP/2.0 200" response arrives.

One line on stdout says what happened; the runner shows it on failure.
"""

import argparse
import os
import select
import socket
import ssl
import sys
import time


def build_options(transport: str, local: tuple, port: int, pad: int) -> bytes:
    tag = os.urandom(6).hex()
    lines = [
        f"OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0",
        f"Via: SIP/2.0/{transport.upper()} {local[0]}:{local[1]};branch=z9hG4bK-raw-{tag};rport",
        "Max-Forwards: 70",
        f"From: <sip:rawsip@{local[0]}>;tag={tag}",
        f"To: <sip:ping@127.0.0.1:{port}>",
        f"Call-ID: {tag}@rawsip",
        "CSeq: 1 OPTIONS",
    ]
    if pad > 0:
        lines.append("X-Padding: " + "x" * pad)
    lines += ["Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def connect(args) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(args.wait)
    if args.bind:
        sock.bind((args.bind, 0))
    sock.connect((args.host, args.port))
    return sock


def read_until_close(sock, deadline: float) -> tuple:
    """Reads until EOF/reset or the deadline. Returns (closed, data, how)."""
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, data, "still open at the deadline"
        # A TLS socket may hold decrypted bytes select() cannot see.
        pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
        if not pending:
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                continue
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError) as e:
            return True, data, f"reset ({e.__class__.__name__})"
        except ssl.SSLError as e:
            return True, data, f"TLS error while reading ({e.reason or e})"
        except socket.timeout:
            continue
        if not chunk:
            return True, data, "EOF"
        data += chunk
        if b"SIP/2.0 " in data and b"\r\n\r\n" in data:
            # A complete response head: enough to decide either mode.
            return False, data, "response received"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["closed", "response"])
    p.add_argument("--transport", choices=["tcp", "tls"], default="tcp")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--bind", help="local source address, e.g. 127.0.0.2")
    p.add_argument("--pad", type=int, default=0, help="bytes of X-Padding header")
    p.add_argument("--wait", type=float, default=2.0, help="seconds to wait for the close or the response")
    p.add_argument("--silent", action="store_true", help="send nothing; only wait for the close")
    args = p.parse_args()

    deadline = time.monotonic() + args.wait
    try:
        sock = connect(args)
    except OSError as e:
        print(f"connect to {args.host}:{args.port} failed: {e}")
        return 1

    closed, data, how = False, b"", ""
    try:
        if args.transport == "tls":
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # voxgate's test certificate is self-signed
            try:
                sock = ctx.wrap_socket(sock, server_hostname="localhost")
            except (ssl.SSLError, ConnectionResetError, BrokenPipeError, socket.timeout, OSError) as e:
                closed, how = True, f"TLS handshake failed ({e.__class__.__name__}: {e})"
        if not closed and args.silent:
            closed, data, how = read_until_close(sock, deadline)
        elif not closed:
            request = build_options(args.transport, sock.getsockname(), args.port, args.pad)
            try:
                sock.sendall(request)
            except (ConnectionResetError, BrokenPipeError) as e:
                closed, how = True, f"closed while sending ({e.__class__.__name__})"
            except ssl.SSLError as e:
                closed, how = True, f"TLS error while sending ({e.reason or e})"
            if not closed:
                closed, data, how = read_until_close(sock, deadline)
    finally:
        sock.close()

    first = data.split(b"\r\n", 1)[0].decode(errors="replace") if data else ""
    got_sip = b"SIP/2.0 " in data
    print(f"{args.transport} from {args.bind or 'default'}: {how}; "
          f"{len(data)} bytes received{': ' + first if first else ''}")
    if args.mode == "closed":
        return 0 if closed and not got_sip else 1
    return 0 if first.startswith("SIP/2.0 200") else 1


if __name__ == "__main__":
    sys.exit(main())
