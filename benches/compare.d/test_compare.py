"""Tests of benches/compare's parsers and arithmetic (no SIPp, no SUT):
    python3 -m unittest discover -s benches/compare.d
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import latency  # noqa: E402
import procfs  # noqa: E402
import report  # noqa: E402
import sipp  # noqa: E402
import systems  # noqa: E402


def udp_frame(sport: int, dport: int, payload: bytes) -> bytes:
    """Ethernet + IPv4 + UDP, as dumpcap records loopback traffic."""
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
    return b"\x00" * 12 + b"\x08\x00" + ip


def write_pcap(path: str, packets: list[tuple[float, bytes]]) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, data in packets:
            sec = int(t)
            usec = int(round((t - sec) * 1e6))
            f.write(struct.pack("<IIII", sec, usec, len(data), len(data)))
            f.write(data)


def invite(user: str, port: int) -> bytes:
    return (f"INVITE sip:{user}@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1\r\n\r\n").encode()


class LatencyTest(unittest.TestCase):
    def test_matches_by_request_uri_user_and_ignores_retransmissions_and_edges(self):
        with tempfile.TemporaryDirectory() as d:
            cap = os.path.join(d, "c.pcap")
            pkts = []
            t = 1000.0
            for i in range(1, 101):
                t_in = t + i * 0.05
                pkts.append((t_in, udp_frame(5090, 5160, invite(f"service{i}", 5160))))
                # forwarded 1 ms later (10 ms for call 50), and a retransmission later that must not count
                delay = 0.010 if i == 50 else 0.001
                pkts.append((t_in + delay, udp_frame(5160, 5080, invite(f"service{i}", 5080))))
                pkts.append((t_in + 0.5, udp_frame(5090, 5160, invite(f"service{i}", 5160))))
            # a BYE is not an INVITE
            pkts.append((t + 1.0, udp_frame(5090, 5160, b"BYE sip:x@y SIP/2.0\r\n\r\n")))
            # one call never forwarded
            pkts.append((t + 2.52, udp_frame(5090, 5160, invite("lost", 5160))))
            pkts.sort(key=lambda p: p[0])
            write_pcap(cap, pkts)
            caps = latency.invites(cap)
            self.assertEqual(len(caps), 301)
            lat, counted, missing = latency.match(caps, 5160, 5080, skip_s=1.0)
            # capture spans 1000.05 .. 1005.5: calls into the SUT between 1001.05 and 1004.5 count
            self.assertEqual(missing, 1)
            self.assertEqual(counted, len(lat) + 1)
            self.assertTrue(all(abs(x - 0.001) < 1e-5 or abs(x - 0.010) < 1e-5 for x in lat))
            s = latency.summary(cap, 5160, 5080)
            self.assertAlmostEqual(s["p50"], 1.0, places=2)
            self.assertAlmostEqual(s["max"], 10.0, places=2)

    def test_percentile_is_nearest_rank(self):
        v = [float(i) for i in range(1, 101)]
        self.assertEqual(latency.percentile(v, 50), 50.0)
        self.assertEqual(latency.percentile(v, 99), 99.0)
        self.assertEqual(latency.percentile(v, 100), 100.0)
        self.assertEqual(latency.percentile([3.0], 99), 3.0)


class SippStatTest(unittest.TestCase):
    def write(self, d: Path, rows: list[tuple[float, int, int, int]]) -> None:
        head = ["StartTime", "CurrentTime", "TotalCallCreated", "SuccessfulCall(C)", "FailedCall(C)",
                "Retransmissions(C)", ""]
        lines = [";".join(head)]
        for t, created, ok, failed in rows:
            lines.append(";".join(["x", f"2026-01-01\t00:00:00.000000\t{t:.6f}", str(created), str(ok),
                                   str(failed), "3", ""]))
        (d / "uac-t.stat.csv").write_text("\n".join(lines) + "\n")

    def test_achieved_rate_and_failures(self):
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            # 1000 calls/s; the last call created at 9.5 s, between the rows at 9 and 10 s.
            rows = [(100.0 + i, min(1000 * i + (500 if i == 10 else 0), 9500), 0, 0) for i in range(0, 12)]
            rows.append((112.0, 9500, 9490, 2))
            self.write(d, rows)
            ctx = argparse.Namespace(out=d)
            r = sipp.sipp_outcome(ctx, "t", 9500)
            self.assertEqual(r["created"], 9500)
            self.assertEqual(r["ok"], 9490)
            self.assertEqual(r["failed"], 10, "not successful counts as failed, open calls too")
            self.assertAlmostEqual(r["fail_pct"], 100 * 10 / 9500)
            self.assertAlmostEqual(r["achieved"], 1000.0, delta=1.0)
            self.assertEqual(r["retrans"], 3)

    def test_missing_statistics_mean_every_call_failed(self):
        with tempfile.TemporaryDirectory() as d:
            r = sipp.sipp_outcome(argparse.Namespace(out=Path(d)), "t", 100)
            self.assertEqual((r["ok"], r["failed"], r["fail_pct"]), (0, 100, 100.0))


class ProcfsTest(unittest.TestCase):
    def test_cpu_ticks_and_tree_of_this_process(self):
        x = 0
        for i in range(3_000_000):
            x += i
        self.assertGreater(procfs.cpu_ticks([os.getpid()]), 0)
        self.assertEqual(procfs.cpu_ticks([2**22 + 12345]), 0, "a missing pid counts nothing")
        self.assertIn(os.getpid(), procfs.tree(os.getpid()))
        self.assertGreater(procfs.status_kb(os.getpid(), "VmHWM"), 0)
        self.assertGreater(procfs.pss_kb(os.getpid()), 0)

    def test_udp_drops_counts_a_full_socket(self):
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        rx.bind(("127.0.0.1", 0))
        port = rx.getsockname()[1]
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.assertEqual(procfs.udp_ports_bound(port, port), [port])
            for _ in range(200):
                tx.sendto(b"x" * 1000, ("127.0.0.1", port))
            self.assertGreater(procfs.udp_drops(port, port), 0)
        finally:
            rx.close()
            tx.close()


class ReportTest(unittest.TestCase):
    def test_table_has_both_systems_and_the_ratio(self):
        args = argparse.Namespace(hold=20, media_calls=[100])
        step = {"rate": 2000, "achieved": 1990.0, "sut_cpu": 50.0, "sipp_cpu": 40.0, "pass": True}
        res = {
            "voxgate": {"cps": {"best": step}, "media": [{"n": 100, "sut_cpu": 10.0, "cpu_ms_per_call_s": 1.0,
                                                          "loss_pct": 0.0, "peak_kb": 10240,
                                                          "mem_per_call_kb": 40.0}]},
            "peer": {"cps": {"best": dict(step, rate=3000, achieved=3000.0, sut_cpu=60.0)},
                     "media": [{"n": 100, "sut_cpu": 20.0, "cpu_ms_per_call_s": 2.0, "loss_pct": 0.0,
                                "peak_kb": 61440, "mem_per_call_kb": 100.0}]},
        }
        table = "\n".join(report.build_table(res, args))
        self.assertRegex(table, r"max CPS.*\| 2000 +\| 3000 +\| 0\.67 ")
        self.assertRegex(table, r"CPU per relayed call.*\| 1\.000 +\| 2\.000 +\| 0\.50 ")
        self.assertRegex(table, r"peak memory.*\| 10\.0 +\| 60\.0 +\| 0\.17 ")
        self.assertRegex(table, r"memory per call.*\| 40\.0 +\| 100\.0 +\| 0\.40 ")

    def test_no_ratio_when_the_peer_figure_is_zero_or_missing(self):
        self.assertEqual(report.ratio(1.0, 0), "—")
        self.assertEqual(report.ratio(None, 2.0), "—")
        self.assertEqual(report.fmt(None), "—")



class BenchConfigTest(unittest.TestCase):
    def test_voxgate_accepts_the_bench_config(self):
        """The config compare writes must load (a key renamed in voxgate would otherwise
        surface only in a benchmark run). Needs a built voxgate: the test command's
        `cargo test` leaves one in the target directory."""
        root = Path(__file__).resolve().parents[2]
        target = Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
        binary = Path(os.environ.get("VOXGATE_BIN", target / "debug" / "voxgate"))
        if not binary.exists():
            self.skipTest(f"no voxgate binary at {binary}")
        import subprocess
        with tempfile.TemporaryDirectory() as d:
            conf = Path(d) / "voxgate-bench.toml"
            conf.write_text(systems.voxgate_config(systems.knows_overload_keys(binary)))
            out = subprocess.run([str(binary), "check-config", str(conf)],
                                 capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(out.stdout.strip(), "OK")
        self.assertTrue(systems.knows_overload_keys(binary), "the sample config lost the overload keys")


class MediagenScenario(unittest.TestCase):
    def test_caller_sends_start_instead_of_pcap_plays(self):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import compare  # noqa: E402
        from common import GEN_MP, PEERS  # noqa: E402
        src = PEERS / "sipp" / "uac_rtp.xml"
        if not src.exists():
            self.skipTest(f"{src} not found")
        xml = src.read_text(encoding="latin-1")
        plays = "".join('  <nop><action><exec play_pcap_audio="g711a.pcap"/></action></nop>\n'
                        '  <pause milliseconds="7100"/>\n' for _ in range(4))
        out = compare.mediagen_scenario(xml, "m=audio [media_port] RTP/AVP 8 101", plays, "plain 4 7100", 28400)
        self.assertNotIn("play_pcap_audio", out)
        self.assertIn(f"m=audio {GEN_MP} RTP/AVP 8 101", out)
        self.assertIn('assign_to="m_line,rport"', out)
        self.assertIn(f"echo start [call_number] [$rip] [$rport] plain 4 7100 >/dev/udp/127.0.0.1/{GEN_MP}", out)
        self.assertIn('<pause milliseconds="28400"/>', out)
        with self.assertRaises(RuntimeError):
            compare.mediagen_scenario(out, "m=audio [media_port] RTP/AVP 8 101", plays, "plain 4 7100", 28400)

if __name__ == "__main__":
    unittest.main()


class SrtpCaptureTest(unittest.TestCase):
    """The SRTP the load run's caller plays must be what any RFC 3711 peer accepts."""

    def test_rfc_3711_vectors(self):
        import srtp
        ks = srtp.aes_cm(bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C"),
                         bytes.fromhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"), bytes(48))
        self.assertEqual(ks[:16].hex().upper(), "E03EAD0935C95E80E166B16DD92B4EB4")  # B.2
        mk, ms = bytes.fromhex("E1F97A0D3E018BE0D64FA32C06DE4139"), bytes.fromhex("0EC675AD498AFEEBB6960B3AABE6")
        self.assertEqual(srtp.derive(mk, ms, 0, 16).hex().upper(), "C61E7A93744F39EE10734AFE3FF7A087")  # B.3
        self.assertEqual(srtp.derive(mk, ms, 2, 14).hex().upper(), "30CBBC08863D8C85D49DB34A9AE1")
        self.assertEqual(srtp.derive(mk, ms, 1, 20).hex().upper(), "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")

    def test_the_same_octets_as_libsrtp(self):
        """media/tests/fixtures/srtp_libsrtp.txt: libsrtp's output for AES_CM_128_HMAC_SHA1_80
        (the packets with a plain 12-octet header; the others only move the rollover counter)."""
        import srtp
        fixture = Path(__file__).resolve().parents[2] / "media/tests/fixtures/srtp_libsrtp.txt"
        lines = fixture.read_text().splitlines()
        start = lines.index("suite AES_CM_128_HMAC_SHA1_80")
        sender = srtp.SrtpSender(bytes.fromhex(lines[start + 1].split()[1]))
        checked = 0
        for line in lines[start + 2:]:
            kind, *rest = line.split()
            if kind != "rtp":
                break
            plain, protected = (bytes.fromhex(x) for x in rest)
            out = sender.protect(plain)  # also moves the rollover counter
            if plain[0] & 0x3F == 0:  # a 12-octet header: what srtp.py handles
                self.assertEqual(out.hex(), protected.hex())
                checked += 1
        self.assertGreaterEqual(checked, 2)

    def test_capture_plays_on_with_one_stream(self):
        import srtp
        with tempfile.TemporaryDirectory() as d:
            src, dst = os.path.join(d, "plain.pcap"), os.path.join(d, "srtp.pcap")
            frames = [udp_frame(5000, 2006, struct.pack(">BBHII", 0x80, 8, 65534 + k & 0xFFFF, 160 * k, 7) + bytes(160))
                      for k in range(3)]
            with open(src, "wb") as f:
                f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
                for k, fr in enumerate(frames):
                    f.write(struct.pack("<IIII", 0, 20000 * k, len(fr), len(fr)) + fr)
            self.assertEqual(srtp.srtp_capture(src, dst, plays=2, every_s=1.0), 6)
            _head, recs = srtp.read_pcap(dst)
            seqs = [struct.unpack(">H", fr[42 + 2:42 + 4])[0] for _s, _u, fr in recs]
            self.assertEqual(seqs, [65534, 65535, 0, 1, 2, 3])
            self.assertEqual([s * 1_000_000 + u for s, u, _f in recs][3], 1_000_000)
            self.assertTrue(all(len(fr) == 42 + 12 + 160 + 10 for _s, _u, fr in recs))
