"""SDES-SRTP for the SRTP↔RTP load run: the caller's capture, protected with a fixed key.

SIPp 3.6 cannot encrypt, but play_pcap_audio sends a capture's UDP payloads as they are. So the
caller plays a capture already protected (RFC 3711, AES_CM_128_HMAC_SHA1_80) with the key its SDP
offers: every call sends the same packets under the same key, and each side under test keeps
fresh SRTP contexts per call. This implementation is independent of voxgate's (Python's
`cryptography`), checked against RFC 3711's test vectors in test_compare.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# The load run's master key and salt (30 octets, a test value: never a secret).
MASTER = bytes(range(1, 31))
SUITE = "AES_CM_128_HMAC_SHA1_80"


def inline_key() -> str:
    """The `inline:` key-params of the offer (base64 of key || salt)."""
    return base64.b64encode(MASTER).decode("ascii")


def aes_cm(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES counter mode from a 16-octet IV (RFC 3711 §4.1.1)."""
    enc = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def derive(master_key: bytes, master_salt: bytes, label: int, length: int) -> bytes:
    """A session key (RFC 3711 §4.3.1, key derivation rate 0, index 0)."""
    x = int.from_bytes(master_salt, "big") ^ (label << 48)
    return aes_cm(master_key, (x << 16).to_bytes(16, "big"), bytes(length))


class SrtpSender:
    """One RTP stream's protection (ROC from the sequence numbers it is given, in order)."""

    def __init__(self, master: bytes = MASTER):
        mk, ms = master[:16], master[16:30]
        self.k_e = derive(mk, ms, 0, 16)
        self.k_a = derive(mk, ms, 1, 20)
        self.k_s = derive(mk, ms, 2, 14)
        self.roc = 0
        self.last_seq: int | None = None

    def protect(self, rtp: bytes) -> bytes:
        """The SRTP packet of the RTP packet `rtp` (fixed 12-octet header, no CSRC/extension)."""
        seq, ssrc = struct.unpack("!H", rtp[2:4])[0], struct.unpack("!I", rtp[8:12])[0]
        if self.last_seq is not None and seq < self.last_seq:
            self.roc += 1
        self.last_seq = seq
        index = (self.roc << 16) | seq
        iv = (int.from_bytes(self.k_s, "big") << 16) ^ (ssrc << 64) ^ (index << 16)
        body = aes_cm(self.k_e, iv.to_bytes(16, "big"), rtp[12:])
        packet = rtp[:12] + body
        tag = hmac.new(self.k_a, packet + struct.pack("!I", self.roc), hashlib.sha1).digest()[:10]
        return packet + tag


def read_pcap(path: str) -> tuple[bytes, list[tuple[int, int, bytes]]]:
    """A classic pcap's global header and its records (seconds, microseconds, frame)."""
    with open(path, "rb") as f:
        data = f.read()
    head, pos, out = data[:24], 24, []
    while pos + 16 <= len(data):
        sec, usec, incl, _orig = struct.unpack("<IIII", data[pos:pos + 16])
        out.append((sec, usec, data[pos + 16:pos + 16 + incl]))
        pos += 16 + incl
    return head, out


def srtp_capture(src: str, dst: str, plays: int, every_s: float) -> int:
    """Writes to `dst` the RTP of Ethernet/IPv4/UDP capture `src` played `plays` times,
    `every_s` seconds apart (as the plain scenario's pauses space its plays), with sequence
    numbers and timestamps continued from play to play and each packet SRTP-protected with
    MASTER. Returns the packets written."""
    head, records = read_pcap(src)
    frames = []
    for sec, usec, frame in records:
        ihl = (frame[14] & 0x0F) * 4
        udp = 14 + ihl
        frames.append((sec * 1_000_000 + usec, frame[:udp], frame[udp:udp + 8], frame[udp + 8:]))
    rtp = [f[1:] for f in frames if len(f[3]) >= 12 and f[3][0] >> 6 == 2]
    at = [f[0] for f in frames if len(f[3]) >= 12 and f[3][0] >> 6 == 2]
    if not rtp:
        raise RuntimeError(f"{src}: no RTP")
    seq0, ts0 = struct.unpack("!HI", rtp[0][2][2:8])
    span_ts = (struct.unpack("!I", rtp[-1][2][4:8])[0] - ts0 + 160) & 0xFFFFFFFF
    sender = SrtpSender()
    out = []
    k = 0
    for p in range(plays):
        for (eth_ip, udp_head, payload), t in zip(rtp, at):
            seq, ts = struct.unpack("!HI", payload[2:8])
            seq = (seq0 + (seq - seq0) % 65536 + p * len(rtp)) & 0xFFFF
            ts = (ts + p * span_ts) & 0xFFFFFFFF
            srtp = sender.protect(payload[:2] + struct.pack("!HI", seq, ts) + payload[8:])
            ip = bytearray(eth_ip)
            struct.pack_into("!H", ip, 16, len(ip) - 14 + 8 + len(srtp))
            struct.pack_into("!H", ip, 24, 0)  # checksum: SIPp does not look
            udp = udp_head[:4] + struct.pack("!HH", 8 + len(srtp), 0)
            frame = bytes(ip) + udp + srtp
            usec = t - at[0] + round(p * every_s * 1_000_000)
            out.append(struct.pack("<IIII", usec // 1000000, usec % 1000000, len(frame), len(frame)) + frame)
            k += 1
    with open(dst, "wb") as f:
        f.write(head)
        f.write(b"".join(out))
    return k
