#!/usr/bin/env python3
"""benches/compare: voxgate against Kamailio + rtpengine, side by side, on loopback.

Run through the `benches/compare` wrapper (it installs the Debian packages and builds voxgate).
See benches/README.md ("Comparison") for what each side runs and how each figure is measured.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import latency  # noqa: E402
import procfs  # noqa: E402

ROOT = HERE.parent.parent
PEERS = Path(os.environ.get("VOXGATE_PEERS_DIR", str(ROOT.parent / "shared" / "peers")))

# Loopback ports. The peer's are fixed by run-peer.sh and kamailio.cfg.
VOX_SIP = 5060
VOX_ADMIN = 9062
PEER_SIP = 5070
UAS_PORT = 5080  # the peer forwards to sip:127.0.0.1:5080 (run-peer.sh UAS_URI default)
UAC_PORT = 5090
UAC_MP = 16000  # SIPp caller's media port (+2 for video, unused)
UAS_MP = 17000  # SIPp callee's echo port (-rtp_echo also echoes on +2)
VOX_MEDIA = (20000, 29999)
RTPE_MEDIA = (30000, 39999)
RTPE_NG = 2223
RTPE_CLI = 9900

SIPP_COMMON = ["-i", "127.0.0.1", "-nostdin", "-buff_size", "4194304"]
# The peer's README: Kamailio's workers can forward a 180 after the 200. Used for both
# systems, so that both are driven by exactly the same SIPp command lines.
SIPP_UAC = ["-default_behaviors", "all,-abortunexp"]


def now_s() -> str:
    return datetime.datetime.now().strftime("%H:%M:%S")


class Ctx:
    """Run-wide state: options, output folder, started processes, time budget."""

    def __init__(self, args: argparse.Namespace, out: Path):
        self.args = args
        self.out = out
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.peer_run_dirs: list[Path] = []
        self.started = time.monotonic()
        self.deadline = self.started + args.max_minutes * 60
        self.notes: list[str] = []
        self.scen = out / "sipp"  # SIPp scenarios (prepare_scenarios)
        self.packets_per_call = 0  # RTP packets the caller sends per call
        self.call_seconds = 0.0  # length of a media call
        self.log_file = open(out / "compare.log", "a", encoding="utf-8")

    def log(self, msg: str) -> None:
        line = f"[{now_s()}] {msg}"
        print(line, flush=True)
        self.log_file.write(line + "\n")
        self.log_file.flush()

    def note(self, msg: str) -> None:
        """A caveat for the results file."""
        self.log("note: " + msg)
        self.notes.append(msg)

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    def start(self, name: str, argv: list[str], cwd: Path | None = None, env=None) -> subprocess.Popen:
        """Starts a process in its own session (so it can be stopped as a group by its id),
        output to OUT/NAME.out."""
        out = open(self.out / f"{name}.out", "wb")
        p = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        out.close()
        self.procs.append((name, p))
        return p

    def stop(self, p: subprocess.Popen | None, sig=signal.SIGTERM, grace: float = 5.0) -> int | None:
        """Stops a process this run started (its process group, by its pid)."""
        if p is None:
            return None
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(5)
        return p.returncode

    def cleanup(self) -> None:
        """Stops everything this run started; safe to call twice."""
        for name, p in reversed(self.procs):
            if p.poll() is None:
                self.log(f"stopping {name} (pid {p.pid})")
                self.stop(p, grace=3)
        for run_dir in self.peer_run_dirs:
            stop_peer(run_dir)
        self.procs.clear()
        self.peer_run_dirs.clear()


def stop_peer(run_dir: Path) -> None:
    """run-peer.sh stop for one PEER_RUN_DIR, then makes sure (by pid) nothing is left."""
    pids = []
    for f in ("kamailio.pid", "rtpengine.pid"):
        try:
            pid = int((run_dir / f).read_text().strip())
        except (OSError, ValueError):
            continue
        pids.extend(procfs.tree(pid))
    if not pids:
        return
    env = dict(os.environ, PEER_RUN_DIR=str(run_dir))
    subprocess.run([str(PEERS / "run-peer.sh"), "stop"], env=env, timeout=30,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --------------------------------------------------------------------------------------
# Systems under test
# --------------------------------------------------------------------------------------


class Voxgate:
    """voxgate, release build, on its benchmark config."""

    key = "voxgate"
    label = "voxgate"
    sip_port = VOX_SIP
    media = VOX_MEDIA

    def __init__(self, ctx: Ctx, binary: Path):
        self.ctx = ctx
        self.bin = binary
        self.proc: subprocess.Popen | None = None
        self.tag = ""
        self.config = ctx.out / "voxgate-bench.toml"
        self.config.write_text(VOXGATE_CONFIG)

    def describe(self) -> str:
        return f"`{self.bin.name} --config voxgate-bench.toml` (one process; config in the run folder)"

    def start(self, tag: str) -> None:
        self.tag = tag
        if procfs.udp_ports_bound(VOX_SIP, VOX_SIP) or procfs.tcp_ports_listening(VOX_ADMIN, VOX_ADMIN):
            raise RuntimeError(f"port {VOX_SIP}/udp or {VOX_ADMIN}/tcp is taken (a leftover voxgate?)")
        env = dict(os.environ, NO_COLOR="1")
        self.proc = self.ctx.start(f"voxgate-{tag}", [str(self.bin), "--config", str(self.config)], env=env)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"voxgate exited at start ({self.proc.returncode}); see voxgate-{tag}.out")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{VOX_ADMIN}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("voxgate not ready after 15 s (GET /readyz)")

    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc and self.proc.poll() is None else []

    def alive(self) -> bool:
        return bool(self.pids())

    def metrics(self) -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{VOX_ADMIN}/metrics", timeout=3) as r:
                return r.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def relayed(self) -> int | None:
        text = self.metrics()
        if not text:
            return None
        return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith("voxgate_rtp_packets_relayed_total")))

    def mem_sample(self) -> dict:
        pid = self.proc.pid if self.proc else 0
        rss = procfs.status_kb(pid, "VmRSS")
        return {"mem_kb": rss, "rss_kb": rss, "pss_kb": procfs.pss_kb(pid)}

    def peak_mem_kb(self, sampled_peak: int) -> int:
        """VmHWM: the kernel's own peak RSS of the process (fresh process per media run)."""
        hwm = procfs.status_kb(self.proc.pid, "VmHWM") if self.proc else 0
        return max(hwm, sampled_peak)

    def snapshot(self, name: str) -> None:
        (self.ctx.out / f"{name}.metrics.txt").write_text(self.metrics())

    def stop(self) -> list[str]:
        """Stops voxgate; returns problems seen (exit status, panics, error lines)."""
        problems = []
        if self.proc is None:
            return problems
        if self.proc.poll() is not None:
            problems.append(f"voxgate ({self.tag}) had exited by itself with status {self.proc.returncode}")
        rc = self.ctx.stop(self.proc, signal.SIGTERM, grace=10)
        if rc not in (0, None, -signal.SIGTERM):
            problems.append(f"voxgate ({self.tag}) exit status {rc} after SIGTERM")
        log = self.ctx.out / f"voxgate-{self.tag}.out"
        try:
            text = log.read_text(errors="replace")
        except OSError:
            text = ""
        if "panicked" in text:
            problems.append(f"voxgate ({self.tag}) panicked: see {log.name}")
        errors = sum(1 for line in text.splitlines() if " ERROR " in line)
        warns = sum(1 for line in text.splitlines() if " WARN " in line)
        if errors or warns:
            problems.append(f"voxgate ({self.tag}) logged {errors} ERROR and {warns} WARN lines: see {log.name}")
        self.proc = None
        return problems


class Peer:
    """Kamailio (+ rtpengine) started by the shared run-peer.sh, as it is."""

    key = "peer"

    def __init__(self, ctx: Ctx, mode: str):
        self.ctx = ctx
        self.mode = mode
        self.label = "Kamailio + rtpengine" if mode == "rtpengine" else "Kamailio"
        self.sip_port = PEER_SIP
        self.media = RTPE_MEDIA
        self.run_dir: Path | None = None
        self.kam_pid = 0
        self.rtpe_pid = 0
        self.tag = ""

    def describe(self) -> str:
        return f"`run-peer.sh {self.mode}`"

    def start(self, tag: str) -> None:
        self.tag = tag
        busy = procfs.udp_ports_bound(PEER_SIP, PEER_SIP) + procfs.udp_ports_bound(RTPE_NG, RTPE_NG)
        if busy or procfs.tcp_ports_listening(RTPE_CLI, RTPE_CLI):
            raise RuntimeError(f"peer ports busy ({PEER_SIP}, {RTPE_NG}/udp or {RTPE_CLI}/tcp): a leftover peer?")
        self.run_dir = self.ctx.out / f"peer-{tag}"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.ctx.peer_run_dirs.append(self.run_dir)
        env = dict(os.environ, PEER_RUN_DIR=str(self.run_dir))
        r = subprocess.run([str(PEERS / "run-peer.sh"), self.mode], env=env, timeout=60,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
        (self.ctx.out / f"peer-{tag}.out").write_text(r.stdout)
        if r.returncode != 0:
            raise RuntimeError(f"run-peer.sh {self.mode} failed: {r.stdout.strip()[-400:]}")
        self.kam_pid = int((self.run_dir / "kamailio.pid").read_text().strip())
        self.rtpe_pid = 0
        if self.mode == "rtpengine":
            self.rtpe_pid = int((self.run_dir / "rtpengine.pid").read_text().strip())
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            ready = bool(procfs.udp_ports_bound(PEER_SIP, PEER_SIP))
            if self.mode == "rtpengine":
                ready = ready and self.rtpengine_totals() is not None
            if ready:
                time.sleep(0.5)  # let every Kamailio child finish its init
                return
            time.sleep(0.2)
        raise RuntimeError(f"peer ({self.mode}) not ready after 15 s; see {self.run_dir}")

    def kamailio_pids(self) -> list[int]:
        return procfs.tree(self.kam_pid) if self.kam_pid else []

    def pids(self) -> list[int]:
        pids = self.kamailio_pids()
        if self.rtpe_pid and procfs.tree(self.rtpe_pid):
            pids.append(self.rtpe_pid)
        return pids

    def alive(self) -> bool:
        ok = bool(self.kam_pid) and bool(procfs.tree(self.kam_pid))
        if self.mode == "rtpengine":
            ok = ok and bool(procfs.tree(self.rtpe_pid))
        return ok

    def rtpengine_totals(self) -> str | None:
        """`list totals` from rtpengine's CLI port (what rtpengine-ctl sends)."""
        try:
            with socket.create_connection(("127.0.0.1", RTPE_CLI), timeout=2) as s:
                s.sendall(b"list totals\n")
                chunks = []
                while True:
                    c = s.recv(65536)
                    if not c:
                        break
                    chunks.append(c)
            return b"".join(chunks).decode("utf-8", "replace")
        except OSError:
            return None

    def relayed(self) -> int | None:
        text = self.rtpengine_totals()
        if text is None:
            return None
        for line in text.splitlines():
            if line.strip().startswith("Total relayed packets ") or line.strip().startswith("Total relayed packets:"):
                return int(line.rsplit(":", 1)[1].strip())
        return None

    def mem_sample(self) -> dict:
        kam = sum(procfs.pss_kb(p) for p in self.kamailio_pids())
        rtpe = procfs.status_kb(self.rtpe_pid, "VmRSS") if self.rtpe_pid else 0
        return {"mem_kb": kam + rtpe, "kamailio_pss_kb": kam, "rtpengine_rss_kb": rtpe}

    def peak_mem_kb(self, sampled_peak: int) -> int:
        """Peak of the sampled sum (Kamailio PSS + rtpengine RSS)."""
        return sampled_peak

    def snapshot(self, name: str) -> None:
        if self.mode == "rtpengine":
            (self.ctx.out / f"{name}.rtpengine-totals.txt").write_text(self.rtpengine_totals() or "")

    def stop(self) -> list[str]:
        problems = []
        if not self.run_dir:
            return problems
        if not self.alive():
            problems.append(f"peer ({self.tag}) had exited by itself: see {self.run_dir}")
        stop_peer(self.run_dir)
        if self.run_dir in self.ctx.peer_run_dirs:
            self.ctx.peer_run_dirs.remove(self.run_dir)
        self.run_dir = None
        self.kam_pid = self.rtpe_pid = 0
        return problems


VOXGATE_CONFIG = f"""# written by benches/compare: voxgate's side of the comparison
[node]
name = "voxgate-bench"
region = "bench"

[admin]
listen = "127.0.0.1:{VOX_ADMIN}"

[logging]
format = "pretty"
level = "warn"

# The same 4 MiB socket buffers the peer gets (kamailio.cfg maxbuffer=4194304).
[[listener]]
transport = "udp"
address = "127.0.0.1:{VOX_SIP}"
recv_buffer = 4194304
send_buffer = 4194304

[[listener]]
transport = "tcp"
address = "127.0.0.1:{VOX_SIP}"

[[trunk]]
name = "loopback"
allow = ["127.0.0.1/32"]

[[media_region]]
name = "bench"
addresses = ["127.0.0.1"]
port_min = {VOX_MEDIA[0]}
port_max = {VOX_MEDIA[1]}

# Every call to the SIPp UAS, as the peer's kamailio.cfg does. No [cdr]: CDRs off.
[[route]]
name = "uas"
match_user = {{ prefix = "" }}
destinations = [ {{ uri = "sip:127.0.0.1:{UAS_PORT}", transport = "udp", trunk = "loopback" }} ]
"""


# --------------------------------------------------------------------------------------
# SIPp
# --------------------------------------------------------------------------------------


def start_uas(ctx: Ctx, tag: str, echo: bool) -> subprocess.Popen:
    if procfs.udp_ports_bound(UAS_PORT, UAS_PORT):
        raise RuntimeError(f"port {UAS_PORT}/udp is taken (a leftover SIPp UAS?)")
    argv = ["sipp", "-sf", str(ctx.scen / "uas_bench.xml"), *SIPP_COMMON, "-p", str(UAS_PORT),
            "-mp", str(UAS_MP), "-trace_err", "-error_file", str(ctx.out / f"uas-{tag}.errors.log")]
    if echo:
        argv.append("-rtp_echo")
    p = ctx.start(f"uas-{tag}", argv, cwd=ctx.scen)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not procfs.udp_ports_bound(UAS_PORT, UAS_PORT):
        if p.poll() is not None:
            raise RuntimeError(f"SIPp UAS exited at start; see uas-{tag}.out")
        time.sleep(0.05)
    return p


def start_uac(ctx: Ctx, tag: str, port: int, scenario: str, rate: int, calls: int, limit: int,
              timeout_s: int) -> subprocess.Popen:
    for f in ctx.out.glob(f"uac-{tag}.*"):
        f.unlink()
    argv = ["sipp", f"127.0.0.1:{port}", "-sf", str(ctx.scen / scenario), *SIPP_COMMON, *SIPP_UAC,
            "-p", str(UAC_PORT), "-mp", str(UAC_MP),
            "-r", str(rate), "-rp", "1000", "-m", str(calls), "-l", str(limit),
            "-recv_timeout", "10000", "-timeout", f"{timeout_s}s", "-timeout_error",
            "-trace_stat", "-stf", str(ctx.out / f"uac-{tag}.stat.csv"), "-fd", "1",
            "-trace_err", "-error_file", str(ctx.out / f"uac-{tag}.errors.log"),
            "-trace_screen", "-screen_file", str(ctx.out / f"uac-{tag}.screen.log")]
    return ctx.start(f"uac-{tag}", argv, cwd=ctx.scen)


def read_stat(path: Path) -> list[dict]:
    """SIPp's -trace_stat rows as dicts (the header row gives the names)."""
    try:
        with open(path, newline="", encoding="latin-1") as f:
            rows = list(csv.reader(f, delimiter=";"))
    except OSError:
        return []
    if len(rows) < 2:
        return []
    head = rows[0]
    out = []
    for r in rows[1:]:
        d = dict(zip(head, r))
        try:
            d["_t"] = float(d.get("CurrentTime", "").split("\t")[-1])
        except ValueError:
            continue
        out.append(d)
    return out


def stat_int(row: dict, key: str) -> int:
    try:
        return int(float(row.get(key, "0") or 0))
    except ValueError:
        return 0


def sipp_outcome(ctx: Ctx, tag: str, calls: int) -> dict:
    """Totals of one UAC run: calls wanted, created, successful, failed (= wanted - successful,
    so calls never created or still open at the end count as failed), achieved rate."""
    rows = read_stat(ctx.out / f"uac-{tag}.stat.csv")
    if not rows:
        return {"calls": calls, "created": 0, "ok": 0, "failed": calls, "fail_pct": 100.0,
                "achieved": 0.0, "retrans": 0, "unexpected": 0, "timeouts": 0, "error": "no SIPp statistics"}
    last = rows[-1]
    created = stat_int(last, "TotalCallCreated")
    ok = stat_int(last, "SuccessfulCall(C)")
    # Achieved creation rate: the time the last call was created, interpolated between
    # the 1-second statistics rows, from SIPp's start (first row).
    t0 = rows[0]["_t"]
    achieved = 0.0
    prev = rows[0]
    for r in rows[1:]:
        c = stat_int(r, "TotalCallCreated")
        if c >= created and created > 0:
            c0 = stat_int(prev, "TotalCallCreated")
            frac = (created - c0) / max(1, c - c0)
            t_done = prev["_t"] + frac * (r["_t"] - prev["_t"])
            achieved = created / max(1e-3, t_done - t0)
            break
        prev = r
    failed = calls - ok
    return {
        "calls": calls,
        "created": created,
        "ok": ok,
        "failed": failed,
        "fail_pct": 100.0 * failed / max(1, calls),
        "achieved": achieved,
        "retrans": stat_int(last, "Retransmissions(C)"),
        "unexpected": stat_int(last, "FailedUnexpectedMessage(C)"),
        "timeouts": stat_int(last, "FailedTimeoutOnRecv(C)") + stat_int(last, "FailedMaxUDPRetrans(C)"),
        "dead_msgs": stat_int(last, "DeadCallMsgs(C)"),
    }


def sleep_until(t: float, proc: subprocess.Popen | None = None) -> None:
    """Sleeps until monotonic time t, or until proc exits."""
    while True:
        left = t - time.monotonic()
        if left <= 0 or (proc is not None and proc.poll() is not None):
            return
        time.sleep(min(left, 0.2))


class MemSampler(threading.Thread):
    """Samples sut.mem_sample() every second; keeps the peak of mem_kb."""

    def __init__(self, sut):
        super().__init__(daemon=True)
        self.sut = sut
        self.peak = 0
        self.peak_sample: dict = {}
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            s = self.sut.mem_sample()
            if s["mem_kb"] > self.peak:
                self.peak, self.peak_sample = s["mem_kb"], s
            self.halt.wait(1.0)

    def finish(self) -> int:
        self.halt.set()
        self.join(5)
        return self.peak


def cpu_pct(ticks: int, seconds: float) -> float:
    return 100.0 * ticks / procfs.CLK_TCK / max(1e-3, seconds)


# --------------------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------------------


def cps_ramp(ctx: Ctx, sut) -> dict:
    """Signalling-only calls at each rate of --cps-steps for --hold seconds, until a step
    fails (>= 0.1% failed calls, or < 95% of the rate achieved)."""
    hold = ctx.args.hold
    problems: list[str] = []
    steps: list[dict] = []
    sut.start("cps")
    uas = start_uas(ctx, f"{sut.key}-cps", echo=False)
    try:
        for rate in ctx.args.cps_steps:
            if ctx.time_left() < hold + 40:
                ctx.note(f"{sut.label}: CPS ramp stopped before {rate} calls/s (time budget)")
                break
            tag = f"{sut.key}-cps-{rate}"
            calls = rate * hold
            sip0 = procfs.udp_drops(sut.sip_port, sut.sip_port)
            sipp_drops0 = procfs.udp_drops(UAS_PORT, UAS_PORT) + procfs.udp_drops(UAC_PORT, UAC_PORT)
            t0 = time.monotonic()
            uac = start_uac(ctx, tag, sut.sip_port, "uac_nomedia.xml", rate, calls,
                            limit=max(1000, rate * 3), timeout_s=hold + 30)
            sleep_until(t0 + 1.5, uac)
            c0 = (time.monotonic(), procfs.cpu_ticks(sut.pids()), procfs.cpu_ticks([uac.pid, uas.pid]))
            sleep_until(t0 + hold - 0.5, uac)
            c1 = (time.monotonic(), procfs.cpu_ticks(sut.pids()), procfs.cpu_ticks([uac.pid, uas.pid]))
            try:
                uac.wait(hold + 60)
            except subprocess.TimeoutExpired:
                ctx.stop(uac)
            sip1 = procfs.udp_drops(sut.sip_port, sut.sip_port)
            sipp_drops1 = procfs.udp_drops(UAS_PORT, UAS_PORT) + procfs.udp_drops(UAC_PORT, UAC_PORT)
            r = sipp_outcome(ctx, tag, calls)
            dt = c1[0] - c0[0]
            r.update(rate=rate, sut_cpu=cpu_pct(c1[1] - c0[1], dt), sipp_cpu=cpu_pct(c1[2] - c0[2], dt),
                     window_s=dt, sut_sip_drops=sip1 - sip0, sipp_drops=sipp_drops1 - sipp_drops0,
                     sipp_rc=uac.returncode)
            r["pass"] = r["fail_pct"] < 0.1 and r["achieved"] >= 0.95 * rate
            steps.append(r)
            ctx.log(f"{sut.label} {rate} calls/s: {r['achieved']:.0f} achieved, {r['failed']}/{calls} failed "
                    f"({r['fail_pct']:.3f}%), SUT {r['sut_cpu']:.0f}% CPU, SIPp {r['sipp_cpu']:.0f}%, "
                    f"SIP socket drops {r['sut_sip_drops']}, SIPp socket drops {r['sipp_drops']} "
                    f"-> {'pass' if r['pass'] else 'FAIL'}")
            sut.snapshot(tag)
            if not sut.alive():
                problems.append(f"{sut.label} died during the {rate} calls/s step")
                break
            if not r["pass"]:
                break
            time.sleep(3)
    finally:
        ctx.stop(uas)
        problems += sut.stop()
    for p in problems:
        ctx.note(p)
    best = None
    for s in steps:
        if s["pass"]:
            best = s
        else:
            break
    return {"steps": steps, "best": best, "problems": problems,
            "capped": bool(steps) and steps[-1]["pass"] and len(steps) == len(ctx.args.cps_steps)}


def latency_run(ctx: Ctx, sut, rate: int) -> dict:
    """INVITE in -> INVITE out, from a dumpcap capture of INVITEs on lo, at `rate` calls/s;
    also the SUT's CPU at that rate."""
    secs = ctx.args.latency_seconds
    tag = f"{sut.key}-latency"
    cap = ctx.out / f"{tag}.pcap"
    problems: list[str] = []
    sut.start("latency")
    uas = start_uas(ctx, tag, echo=False)
    dump = None
    try:
        flt = f"udp and (dst port {sut.sip_port} or dst port {UAS_PORT}) and udp[8:4] = 0x494e5649"
        dump = ctx.start(f"dumpcap-{tag}", ["dumpcap", "-i", "lo", "-q", "-P", "-s", "200", "-f", flt,
                                            "-a", f"duration:{secs + 6}", "-w", str(cap)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not cap.exists():
            if dump.poll() is not None:
                raise RuntimeError(f"dumpcap exited at start; see dumpcap-{tag}.out")
            time.sleep(0.1)
        time.sleep(1.0)
        t0 = time.monotonic()
        uac = start_uac(ctx, tag, sut.sip_port, "uac_latency.xml", rate, rate * secs,
                        limit=max(1000, rate * 3), timeout_s=secs + 30)
        sleep_until(t0 + 1.5, uac)
        c0 = (time.monotonic(), procfs.cpu_ticks(sut.pids()))
        sleep_until(t0 + secs - 0.5, uac)
        c1 = (time.monotonic(), procfs.cpu_ticks(sut.pids()))
        try:
            uac.wait(secs + 60)
        except subprocess.TimeoutExpired:
            ctx.stop(uac)
        try:
            dump.wait(secs + 15)
        except subprocess.TimeoutExpired:
            ctx.stop(dump, signal.SIGINT)
        out = sipp_outcome(ctx, tag, rate * secs)
        out["rate"] = rate
        out["sut_cpu"] = cpu_pct(c1[1] - c0[1], c1[0] - c0[0])
        out.update(latency.summary(str(cap), sut.sip_port, UAS_PORT))
        sut.snapshot(tag)
        if not sut.alive():
            problems.append(f"{sut.label} died during the latency run")
    finally:
        ctx.stop(dump, signal.SIGINT)
        ctx.stop(uas)
        problems += sut.stop()
    for p in problems:
        ctx.note(p)
    if "p50" in out:
        ctx.log(f"{sut.label} latency at {rate} calls/s: p50 {out['p50']:.3f} ms, p99 {out['p99']:.3f} ms "
                f"({out['matched']}/{out['calls']} INVITEs matched), SUT {out['sut_cpu']:.0f}% CPU, "
                f"{out['failed']} calls failed")
    else:
        ctx.log(f"{sut.label} latency at {rate} calls/s: no INVITE matched ({out})")
    return out


def media_run(ctx: Ctx, sut, n: int) -> dict:
    """n concurrent calls with RTP echoed by the UAS; CPU over the plateau (all n calls up),
    packets relayed vs expected, memory idle vs peak."""
    tag = f"{sut.key}-media-{n}"
    problems: list[str] = []
    rate = max(10, math.ceil(n / ctx.args.media_ramp_s))
    ramp = n / rate
    call_s = ctx.call_seconds
    if ramp + 4 > call_s:
        raise RuntimeError(f"{n} calls at {rate}/s do not all overlap within one {call_s:.1f} s call")
    sut.start(f"media-{n}")
    uas = start_uas(ctx, tag, echo=True)
    sampler = None
    try:
        time.sleep(1.0)
        idle = sut.mem_sample()
        relayed0 = sut.relayed()
        sampler = MemSampler(sut)
        sampler.start()
        t0 = time.monotonic()
        uac = start_uac(ctx, tag, sut.sip_port, "uac_rtp.xml", rate, n, limit=n,
                        timeout_s=int(ramp + call_s + 40))
        # The plateau: from the last call's setup to just before the first call's BYE.
        sleep_until(t0 + ramp + 1.5, uac)
        c0 = (time.monotonic(), procfs.cpu_ticks(sut.pids()), procfs.cpu_ticks([uac.pid, uas.pid]))
        sleep_until(t0 + call_s - 1.0, uac)
        c1 = (time.monotonic(), procfs.cpu_ticks(sut.pids()), procfs.cpu_ticks([uac.pid, uas.pid]))
        drops_sut = procfs.udp_drops(*sut.media)
        drops_echo = procfs.udp_drops(UAS_MP, UAS_MP + 3)
        try:
            uac.wait(ramp + call_s + 60)
        except subprocess.TimeoutExpired:
            ctx.stop(uac)
        time.sleep(1.5)  # counters of the last packets and BYEs
        relayed1 = sut.relayed()
        sampled_peak = sampler.finish()
        peak = sut.peak_mem_kb(sampled_peak)
        out = sipp_outcome(ctx, tag, n)
        dt = c1[0] - c0[0]
        expected = 2 * ctx.packets_per_call * out["ok"]
        relayed = (relayed1 - relayed0) if relayed0 is not None and relayed1 is not None else None
        out.update(
            n=n, rate=rate, window_s=dt,
            sut_cpu=cpu_pct(c1[1] - c0[1], dt), sipp_cpu=cpu_pct(c1[2] - c0[2], dt),
            relayed=relayed, expected=expected,
            loss_pct=(100.0 * (1 - relayed / expected)) if relayed is not None and expected else None,
            drops_sut=drops_sut, drops_echo=drops_echo,
            idle_kb=idle["mem_kb"], peak_kb=peak, sampled_peak_kb=sampled_peak,
            peak_sample=sampler.peak_sample,
        )
        out["mem_per_call_kb"] = (peak - idle["mem_kb"]) / n
        out["cpu_ms_per_call_s"] = out["sut_cpu"] * 10.0 / n  # ms of CPU per second per call
        sut.snapshot(tag)
        if not sut.alive():
            problems.append(f"{sut.label} died during the {n}-call media run")
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.finish()
        ctx.stop(uas)
        problems += sut.stop()
    for p in problems:
        ctx.note(p)
    loss = "n/a" if out["loss_pct"] is None else f"{out['loss_pct']:.3f}%"
    ctx.log(f"{sut.label} {n} calls with RTP: {out['ok']}/{n} ok, SUT {out['sut_cpu']:.1f}% CPU, "
            f"SIPp {out['sipp_cpu']:.0f}%, relayed {out['relayed']}/{expected} (loss {loss}), "
            f"socket drops SUT {drops_sut} echo {drops_echo}, memory {out['idle_kb'] / 1024:.1f} -> "
            f"{peak / 1024:.1f} MiB ({out['mem_per_call_kb']:.1f} KiB/call)")
    return out


# --------------------------------------------------------------------------------------
# Set-up, report
# --------------------------------------------------------------------------------------


def prepare_scenarios(ctx: Ctx) -> None:
    """Copies the peer's SIPp scenarios and pcap into the run folder (SIPp runs there, and
    the shared folder may be read-only), and derives uac_latency.xml: uac_nomedia.xml with
    [call_number] appended to the Request-URI user, so that each INVITE can be matched to
    the one the SUT forwards."""
    src = PEERS / "sipp"
    ctx.scen = ctx.out / "sipp"
    ctx.scen.mkdir(exist_ok=True)
    for name in ("uac_nomedia.xml", "uac_rtp.xml", "uas_bench.xml", "g711a.pcap"):
        shutil.copyfile(src / name, ctx.scen / name)
    text = (src / "uac_nomedia.xml").read_text(encoding="latin-1")
    old = "INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0"
    if text.count(old) != 1:
        raise RuntimeError(f"uac_nomedia.xml changed: expected one '{old}'")
    text = text.replace(old, "INVITE sip:[service][call_number]@[remote_ip]:[remote_port] SIP/2.0")
    (ctx.scen / "uac_latency.xml").write_text(text, encoding="latin-1")
    # Expected RTP per call: the UDP packets in the pcap times the plays in uac_rtp.xml.
    pkts = sum(1 for _t, ip in latency.read_pcap(str(ctx.scen / "g711a.pcap")) if latency.udp_payload(ip))
    rtp = (src / "uac_rtp.xml").read_text(encoding="latin-1")
    plays = rtp.count("play_pcap_audio=")
    pauses = [int(x.split('"')[0]) for x in rtp.split('pause milliseconds="')[1:]]
    ctx.packets_per_call = pkts * plays
    ctx.call_seconds = sum(pauses) / 1000.0
    ctx.log(f"scenarios: {pkts} RTP packets x {plays} plays = {ctx.packets_per_call} packets per call "
            f"each way, calls of {ctx.call_seconds:.1f} s")


def wait_quiet(ctx: Ctx) -> dict:
    """Waits (polling every minute, up to --wait-quiet minutes) until no build, SIPp or SIP
    server runs and the CPUs are < 20% busy. Returns what it saw."""
    limit = time.monotonic() + ctx.args.wait_quiet * 60
    me = set(procfs.tree(os.getpid())) | {os.getppid()}
    while True:
        busy = procfs.foreign_busy_processes(me)
        frac = procfs.cpu_busy_fraction(3.0)
        state = {"load": procfs.load_average(), "cpu_busy": frac, "foreign": busy}
        if not busy and frac < 0.2:
            ctx.log(f"machine quiet (load {state['load']}, CPUs {frac * 100:.0f}% busy)")
            state["quiet"] = True
            return state
        if time.monotonic() >= limit:
            ctx.note(f"machine not quiet when the run started: load {state['load']}, CPUs {frac * 100:.0f}% busy, "
                     f"other processes: {', '.join(busy[:12]) or 'none'}; figures may be low or noisy")
            state["quiet"] = False
            return state
        ctx.log(f"machine busy (load {state['load']}, CPUs {frac * 100:.0f}% busy, {', '.join(busy[:8])}); "
                f"waiting a minute")
        time.sleep(57)


def versions(binary: Path) -> dict:
    def run(argv):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip().splitlines()[0] if (r.stdout + r.stderr).strip() else "?"
        except (OSError, subprocess.TimeoutExpired):
            return "?"

    def first_with(argv, word):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return "?"
        for line in (r.stdout + r.stderr).splitlines():
            if word in line:
                return line.strip()
        return "?"

    commit = run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "sip", "media",
                            "edge", "control", "config", "Cargo.toml", "Cargo.lock"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "voxgate": f"{run([str(binary), '--version'])} (commit {commit}{', with uncommitted changes' if dirty else ''})",
        "kamailio": run(["kamailio", "-v"]),
        "rtpengine": first_with(["rtpengine", "--version"], "ersion"),
        "sipp": first_with(["sipp", "-v"], "SIPp"),
    }


def fmt(v, spec: str = ".0f", unit: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:{spec}}{unit}"


def ratio(a, b) -> str:
    if a is None or b is None or b == 0 or (isinstance(a, float) and math.isnan(a)):
        return "—"
    return f"{a / b:.2f}"


def build_table(res: dict, args) -> list[str]:
    """THE table: each figure for both systems and the ratio voxgate/peer."""
    v, p = res.get("voxgate", {}), res.get("peer", {})
    rows = [("figure", "voxgate", "Kamailio (+ rtpengine for media)", "voxgate/peer", "better")]

    def row(name, vv, pv, spec, unit="", better=""):
        rows.append((name, fmt(vv, spec, unit), fmt(pv, spec, unit), ratio(vv, pv), better))

    vc, pc = v.get("cps"), p.get("cps")
    if vc or pc:
        vb = (vc or {}).get("best") or {}
        pb = (pc or {}).get("best") or {}

        def best_rate(c):
            if not c:
                return None
            return c["best"]["rate"] if c.get("best") else 0

        row(f"max CPS, < 0.1% failed, {args.hold} s steps (calls/s)", best_rate(vc), best_rate(pc), ".0f",
            better="higher")
        row("  achieved rate at that step (calls/s)", vb.get("achieved"), pb.get("achieved"), ".0f")
        row("  SUT CPU at that step (% of one core)", vb.get("sut_cpu"), pb.get("sut_cpu"), ".0f", "%")
        row("  SIPp CPU at that step, UAC + UAS (% of one core)", vb.get("sipp_cpu"), pb.get("sipp_cpu"), ".0f", "%")
        vpk = vb["sut_cpu"] / vb["achieved"] * 1000 if vb.get("achieved") else None
        ppk = pb["sut_cpu"] / pb["achieved"] * 1000 if pb.get("achieved") else None
        row("  SUT CPU per 1000 calls/s (% of one core)", vpk, ppk, ".1f", "%", "lower")
    vl, pl = v.get("latency"), p.get("latency")
    if vl or pl:
        rate = (vl or pl)["rate"]
        row(f"INVITE in→out p50 at {rate} calls/s (ms)", (vl or {}).get("p50"), (pl or {}).get("p50"), ".3f",
            better="lower")
        row(f"INVITE in→out p99 at {rate} calls/s (ms)", (vl or {}).get("p99"), (pl or {}).get("p99"), ".3f",
            better="lower")
        row(f"SUT CPU at {rate} calls/s (% of one core)", (vl or {}).get("sut_cpu"), (pl or {}).get("sut_cpu"),
            ".0f", "%", "lower")
    vm = {m["n"]: m for m in v.get("media", [])}
    pm = {m["n"]: m for m in p.get("media", [])}
    for n in args.media_calls:
        a, b = vm.get(n), pm.get(n)
        if not a and not b:
            continue
        a, b = a or {}, b or {}
        row(f"{n} calls with RTP: SUT CPU (% of one core)", a.get("sut_cpu"), b.get("sut_cpu"), ".1f", "%",
            "lower")
        row(f"{n} calls: CPU per relayed call (ms CPU per s)", a.get("cpu_ms_per_call_s"),
            b.get("cpu_ms_per_call_s"), ".3f", better="lower")
        row(f"{n} calls: packet loss (relay counter vs sent)", a.get("loss_pct"), b.get("loss_pct"), ".3f", "%",
            "lower")
        row(f"{n} calls: peak memory (MiB)", (a.get("peak_kb") or 0) / 1024 or None,
            (b.get("peak_kb") or 0) / 1024 or None, ".1f", better="lower")
        row(f"{n} calls: memory per call (KiB)", a.get("mem_per_call_kb"), b.get("mem_per_call_kb"), ".1f",
            better="lower")
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    out = []
    for k, r in enumerate(rows):
        out.append("| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(r)) + " |")
        if k == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return out


def details(res: dict, args) -> list[str]:
    """Per-step figures behind the table."""
    out = []
    for key in ("voxgate", "peer"):
        r = res.get(key)
        if not r:
            continue
        out.append(f"### {r['label']}")
        out.append("")
        if r.get("cps"):
            out.append("CPS ramp (uac_nomedia.xml, BYE at once):")
            out.append("")
            out.append("| target | achieved | calls | failed | failed % | SUT CPU | SIPp CPU | SIP socket drops | "
                       "SIPp socket drops | retrans | unexpected | result |")
            out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
            for s in r["cps"]["steps"]:
                out.append(f"| {s['rate']} | {s['achieved']:.0f} | {s['calls']} | {s['failed']} | "
                           f"{s['fail_pct']:.3f} | {s['sut_cpu']:.0f}% | {s['sipp_cpu']:.0f}% | {s['sut_sip_drops']} | "
                           f"{s['sipp_drops']} | {s['retrans']} | {s['unexpected']} | "
                           f"{'pass' if s['pass'] else 'FAIL'} |")
            out.append("")
        if r.get("latency"):
            la = r["latency"]
            out.append(f"Latency run: {la['rate']} calls/s for {args.latency_seconds} s, {la.get('failed')} calls "
                       f"failed; INVITEs matched {la.get('matched')}/{la.get('calls')}; "
                       f"p50 {fmt(la.get('p50'), '.3f')} ms, p90 {fmt(la.get('p90'), '.3f')} ms, "
                       f"p99 {fmt(la.get('p99'), '.3f')} ms, max {fmt(la.get('max'), '.3f')} ms; "
                       f"SUT CPU {fmt(la.get('sut_cpu'))}%.")
            out.append("")
        if r.get("media"):
            out.append("Calls with RTP (uac_rtp.xml → uas_bench.xml -rtp_echo):")
            out.append("")
            out.append("| calls | setup rate | ok | SUT CPU | SIPp CPU | relayed | expected | loss | SUT socket drops | "
                       "echo socket drops | idle memory | peak memory | per call |")
            out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
            for m in r["media"]:
                out.append(f"| {m['n']} | {m['rate']}/s | {m['ok']} | {m['sut_cpu']:.1f}% | {m['sipp_cpu']:.0f}% | "
                           f"{m['relayed']} | {m['expected']} | {fmt(m['loss_pct'], '.3f', '%')} | {m['drops_sut']} | "
                           f"{m['drops_echo']} | {m['idle_kb'] / 1024:.1f} MiB | {m['peak_kb'] / 1024:.1f} MiB | "
                           f"{m['mem_per_call_kb']:.1f} KiB |")
            out.append("")
    return out


def render(ctx: Ctx, res: dict, mach: dict, quiet: dict, vers: dict, table: list[str], started: str) -> str:
    a = ctx.args
    mode = "quick (development; not comparable with full runs)" if a.quick else "full"
    lines = [
        f"# voxgate vs Kamailio + rtpengine — {started[:10]} on {mach['host']}",
        "",
        f"Produced by `benches/compare{' --quick' if a.quick else ''}` ({mode}), started {started}, "
        f"took {(time.monotonic() - ctx.started) / 60:.1f} min.",
        "",
        f"Machine: {mach['nproc']} CPUs ({mach['cpu']}), {mach['ram']} RAM, Linux {mach['kernel']}; "
        f"load average at start {quiet.get('load')}, CPUs {quiet.get('cpu_busy', 0) * 100:.0f}% busy, "
        f"{'quiet' if quiet.get('quiet') else 'NOT quiet'}. Everything (SIPp caller and callee, the system "
        f"under test) on this one machine, over loopback.",
        "",
        f"Versions: {vers['voxgate']}; {vers['kamailio']}; {vers['rtpengine']}; {vers['sipp']}.",
        "",
        *table,
        "",
        "CPU is utime+stime from /proc/PID/stat of all the SUT's processes (voxgate: its one process; "
        "peer: every Kamailio process, plus rtpengine in the media runs) over the steady part of each "
        "step, in % of one core. Memory: voxgate VmHWM; peer: peak of (sum of Kamailio PSS from "
        "smaps_rollup + rtpengine VmRSS), sampled every second; per call = (peak - idle) / calls. "
        "Loss: 1 - packets the SUT's relay counted (voxgate_rtp_packets_relayed_total; rtpengine "
        "`list totals` \"Total relayed packets\") / (2 x packets sent per call x calls completed). "
        "Latency: first INVITE into the SUT to first INVITE out to the UAS for the same Request-URI "
        "user, from a dumpcap capture on lo. See benches/README.md, section Comparison.",
        "",
        f"Parameters: CPS steps {','.join(map(str, a.cps_steps))} held {a.hold} s; media calls "
        f"{','.join(map(str, a.media_calls))} (set up at calls/{a.media_ramp_s} per second); latency "
        f"{a.latency_seconds} s.",
        "",
    ]
    if ctx.notes:
        lines += ["Notes from this run:", ""] + [f"- {n}" for n in ctx.notes] + [""]
    lines += ["## Details", ""] + details(res, a)
    lines += [f"Raw output (SIPp statistics and error files, logs, captures): `{ctx.out}` (not committed).", ""]
    return "\n".join(lines)


def parse_list(s: str) -> list[int]:
    try:
        out = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {s}")
    if not out or any(x <= 0 for x in out):
        raise argparse.ArgumentTypeError(f"need positive numbers: {s}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(prog="benches/compare", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="development run of ~5 min: steps 1000,2000,3000 held 10 s, 100 media calls, "
                         "8 s latency; results stay in the run folder")
    ap.add_argument("--cps-steps", type=parse_list, help="calls/s steps (default 500,1000,...,4000)")
    ap.add_argument("--hold", type=int, help="seconds per CPS step (default 20)")
    ap.add_argument("--media-calls", type=parse_list, help="concurrent calls with RTP (default 100,250,500)")
    ap.add_argument("--media-ramp-s", type=int, default=5, help="seconds to set up the media calls (default 5)")
    ap.add_argument("--latency-cps", type=int,
                    help="rate of the latency run (default: half the lower of the two max CPS)")
    ap.add_argument("--latency-seconds", type=int, help="length of the latency run (default 20)")
    ap.add_argument("--only", choices=["voxgate", "peer"], help="measure one system only")
    ap.add_argument("--phases", default="cps,latency,media", help="subset of cps,latency,media")
    ap.add_argument("--wait-quiet", type=float, help="minutes to wait for a quiet machine (default 10; quick 0)")
    ap.add_argument("--max-minutes", type=float, default=30, help="time budget; later steps are skipped")
    ap.add_argument("--voxgate-bin", default=str(ROOT / "target" / "release" / "voxgate"),
                    help="the voxgate binary (the wrapper builds it; default target/release/voxgate)")
    ap.add_argument("--out", help="run folder (default benches/compare.d/out/STAMP)")
    ap.add_argument("--results", help="write the results file here (default benches/results/DATE-HOST.md "
                                      "for full runs, RUN/results.md for quick ones)")
    a = ap.parse_args()
    if a.quick:
        a.cps_steps = a.cps_steps or [1000, 2000, 3000]
        a.hold = a.hold or 10
        a.media_calls = a.media_calls or [100]
        a.latency_seconds = a.latency_seconds or 8
        a.wait_quiet = 0 if a.wait_quiet is None else a.wait_quiet
    a.cps_steps = a.cps_steps or [500, 1000, 1500, 2000, 2500, 3000, 3500, 4000]
    a.hold = a.hold or 20
    a.media_calls = a.media_calls or [100, 250, 500]
    a.latency_seconds = a.latency_seconds or 20
    a.wait_quiet = 10 if a.wait_quiet is None else a.wait_quiet
    phases = set(a.phases.split(","))
    if not phases <= {"cps", "latency", "media"}:
        ap.error("--phases: cps, latency, media")
    if "latency" in phases and "cps" not in phases and not a.latency_cps:
        ap.error("the latency phase without the cps phase needs --latency-cps")

    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(a.out) if a.out else HERE / "out" / stamp
    out.mkdir(parents=True, exist_ok=True)
    ctx = Ctx(a, out)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    binary = out / "voxgate"
    res: dict = {}
    try:
        # A copy, so that a rebuild by someone else during the run cannot swap the binary.
        shutil.copy2(a.voxgate_bin, binary)
        prepare_scenarios(ctx)
        for tool in ("sipp", "kamailio", "rtpengine", "dumpcap"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} not found (the benches/compare wrapper installs it)")
        mach = procfs.machine()
        quiet = wait_quiet(ctx)
        vers = versions(binary)
        ctx.log(f"run folder {out}")
        vox = Voxgate(ctx, binary)
        systems = []
        if a.only != "peer":
            systems.append(("voxgate", vox, vox))
            res["voxgate"] = {"label": "voxgate"}
        if a.only != "voxgate":
            systems.append(("peer", Peer(ctx, "plain"), Peer(ctx, "rtpengine")))
            res["peer"] = {"label": "Kamailio (CPS, latency) / Kamailio + rtpengine (media)"}
        if "cps" in phases:
            for key, sig, _media in systems:
                ctx.log(f"--- max CPS: {sig.label}")
                res[key]["cps"] = cps_ramp(ctx, sig)
        if "latency" in phases:
            rate = a.latency_cps
            if not rate:
                bests = [res[k]["cps"]["best"]["rate"] for k, _s, _m in systems if res[k]["cps"].get("best")]
                rate = max(100, min(bests) // 2) if bests else 100
            for key, sig, _media in systems:
                if ctx.time_left() < a.latency_seconds + 60:
                    ctx.note(f"latency run of {sig.label} skipped (time budget)")
                    continue
                ctx.log(f"--- latency: {sig.label} at {rate} calls/s")
                res[key]["latency"] = latency_run(ctx, sig, rate)
        if "media" in phases:
            for key, _sig, med in systems:
                res[key]["media"] = []
                for n in a.media_calls:
                    if ctx.time_left() < ctx.call_seconds + 60:
                        ctx.note(f"media run of {med.label} with {n} calls skipped (time budget)")
                        continue
                    ctx.log(f"--- {n} calls with RTP: {med.label}")
                    res[key]["media"].append(media_run(ctx, med, n))
        table = build_table(res, a)
        text = render(ctx, res, mach, quiet, vers, table, started)
        (out / "results.md").write_text(text)
        (out / "results.json").write_text(json.dumps({"machine": mach, "quiet": quiet, "versions": vers,
                                                      "results": res, "notes": ctx.notes}, indent=1, default=str))
        if a.results:
            dest = Path(a.results)
        elif a.quick or a.only or phases != {"cps", "latency", "media"}:
            dest = out / "results.md"
        else:
            dest = ROOT / "benches" / "results" / f"{started[:10]}-{mach['host']}.md"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)
        print()
        print("\n".join(table))
        print()
        for n in ctx.notes:
            print(f"note: {n}")
        print(f"results: {dest}")
        return 0
    except KeyboardInterrupt as e:
        ctx.log(f"interrupted ({e}); stopping everything started")
        return 130
    except Exception as e:  # noqa: BLE001 - report, clean up, non-zero exit
        ctx.log(f"error: {e!r}")
        (out / "partial.json").write_text(json.dumps(res, indent=1, default=str))
        return 1
    finally:
        ctx.cleanup()


if __name__ == "__main__":
    sys.exit(main())
