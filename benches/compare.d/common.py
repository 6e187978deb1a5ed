"""Shared by the benches/compare modules: paths, loopback ports, SIPp flags, the run context
(options, output folder, the processes this run started, time budget)."""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import subprocess
import time
from pathlib import Path

import procfs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PEERS = Path(os.environ.get("VOXGATE_PEERS_DIR", str(ROOT.parent / "shared" / "peers")))

# Loopback ports. The peer's are fixed by run-peer.sh and kamailio.cfg.
VOX_SIP = 5160  # not 5060: a SIPp started without -p binds 5060 (and up) itself
VOX_ADMIN = 9062
VOX_API = 9072  # the call-control API of the prompt runs
PROMPT_TOKEN = "voxgate-bench-token"  # its bearer token (loopback only)
PEER_SIP = 5070
UAS_PORT = 5080  # the peer forwards to sip:127.0.0.1:5080 (run-peer.sh UAS_URI default)
UAC_PORT = 5090
UAC_MP = 16000  # SIPp caller's media port (+2 for video, unused)
GEN_MP = 16100  # mediagen: the callers' media socket, every call's RTP out and back (--media-source mediagen)
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
        self.prompt_wav: Path | None = None  # what the prompt runs play (write_prompt_wav)
        self.caller_mp = UAC_MP  # where the callers receive RTP: SIPp's media port, or mediagen's
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
