#!/usr/bin/env python3
"""A small authoritative DNS responder for the SIPp suite (standard library only).

Serves the records given on the command line over UDP on loopback, answers anything else
with NXDOMAIN (an unknown name) or an empty NOERROR (a known name, another type), and
appends one line per query ("NAPTR carrier.test.") to a log file, so that a test can check
what voxgate asked and in which order.

    dns_responder.py ADDR PORT LOGFILE RECORD...

Each RECORD is one argument, fields separated by spaces, TTL 60:
    "NAPTR name order preference flags service replacement"
    "SRV name priority weight port target"
    "A name 127.0.0.6"
"""

import socket
import struct
import sys

TYPES = {"A": 1, "NAPTR": 35, "SRV": 33, "AAAA": 28}
NAMES = {v: k for k, v in TYPES.items()}
TTL = 60


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def char_string(text):
    data = text.encode("ascii")
    return bytes([len(data)]) + data


def rdata(kind, fields):
    if kind == "A":
        return socket.inet_aton(fields[0])
    if kind == "SRV":
        priority, weight, port, target = fields
        return struct.pack("!HHH", int(priority), int(weight), int(port)) + encode_name(target)
    if kind == "NAPTR":
        order, preference, flags, service, replacement = fields
        return (struct.pack("!HH", int(order), int(preference)) + char_string(flags)
                + char_string(service) + char_string("") + encode_name(replacement))
    raise ValueError(kind)


def parse_question(packet):
    """(id, flags, qname, qtype, end of question) of a query; raises on a bad one."""
    ident, flags, qdcount = struct.unpack("!HHH", packet[:6])
    if qdcount != 1:
        raise ValueError("one question expected")
    labels, at = [], 12
    while True:
        n = packet[at]
        at += 1
        if n == 0:
            break
        if n & 0xC0:
            raise ValueError("no compression in questions")
        labels.append(packet[at:at + n].decode("ascii").lower())
        at += n
    qtype, _qclass = struct.unpack("!HH", packet[at:at + 4])
    return ident, flags, ".".join(labels) + ".", qtype, at + 4


def main():
    addr, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    records = {}
    for spec in sys.argv[4:]:
        kind, name, *fields = spec.split()
        name = name.lower().rstrip(".") + "."
        records.setdefault(name, []).append((TYPES[kind], rdata(kind, fields)))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, port))
    while True:
        packet, peer = sock.recvfrom(4096)
        try:
            ident, flags, qname, qtype, end = parse_question(packet)
        except (ValueError, IndexError, struct.error, UnicodeDecodeError):
            continue
        with open(log, "a") as f:
            f.write(f"{NAMES.get(qtype, qtype)} {qname}\n")
        answers = [r for r in records.get(qname, []) if r[0] == qtype]
        rcode = 0 if qname in records else 3
        # QR, opcode 0, AA, RD copied, RA.
        out_flags = 0x8400 | (flags & 0x0100) | 0x0080 | rcode
        header = struct.pack("!HHHHHH", ident, out_flags, 1, len(answers), 0, 0)
        body = packet[12:end]
        for rtype, data in answers:
            # The owner is the question's name (a pointer to offset 12).
            body += struct.pack("!HHHIH", 0xC00C, rtype, 1, TTL, len(data)) + data
        sock.sendto(header + body, peer)


if __name__ == "__main__":
    main()
