"""The two systems under test: voxgate (one process, on its benchmark config) and the peer
(Kamailio, and rtpengine for media, started by the shared run-peer.sh as it is)."""

from __future__ import annotations

import os
import signal
import socket
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import procfs
from common import (PEER_SIP, PEERS, PROMPT_TOKEN, RTPE_CLI, RTPE_MEDIA, RTPE_NG, UAS_PORT, VOX_ADMIN,
                    VOX_API, VOX_MEDIA, VOX_SIP, Ctx, stop_peer)


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
        self.base_config = voxgate_config(knows_overload_keys(binary))
        self.config.write_text(self.base_config)

    def describe(self) -> str:
        return f"`{self.bin.name} --config voxgate-bench.toml` (one process; config in the run folder)"

    def start(self, tag: str, srtp: bool = False, prompt: Path | None = None) -> None:
        self.tag = tag
        # SRTP runs: the trunk takes SDES-SRTP offers and offers plain RTP with keys
        # ("optional"), which SIPp's callee answers in plain RTP: SRTP↔RTP.
        config = self.base_config.replace(
            'allow = ["127.0.0.1/32"]\n', 'allow = ["127.0.0.1/32"]\nsrtp = "optional"\n' if srtp
            else 'allow = ["127.0.0.1/32"]\n')
        if prompt is not None:
            # Prompt runs: every call goes to the call-control API, whose client
            # (prompt_client.py) answers it and plays the prompt, looped.
            route = config.index("# Every call to the SIPp UAS")
            config = config[:route] + PROMPT_CONFIG.format(
                api=VOX_API, sha=self.token_sha(PROMPT_TOKEN), wav=prompt)
        self.config.write_text(config)
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

    def token_sha(self, token: str) -> str:
        """The config's form of an API token (`voxgate hash-token`)."""
        r = subprocess.run([str(self.bin), "hash-token", token], stdout=subprocess.PIPE, text=True,
                           timeout=10, check=True)
        return r.stdout.strip()

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
        # voxgate drains on SIGTERM: it waits up to 64*T1 (32 s) for unsettled transactions.
        t0 = time.monotonic()
        rc = self.ctx.stop(self.proc, signal.SIGTERM, grace=40)
        if time.monotonic() - t0 > 5:
            problems.append(f"voxgate ({self.tag}) took {time.monotonic() - t0:.0f} s to stop after SIGTERM")
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

    def start(self, tag: str, srtp: bool = False, prompt: Path | None = None) -> None:
        self.tag = tag
        peers = self.srtp_peers() if srtp else self.prompt_peers(prompt) if prompt else PEERS
        busy = procfs.udp_ports_bound(PEER_SIP, PEER_SIP) + procfs.udp_ports_bound(RTPE_NG, RTPE_NG)
        if busy or procfs.tcp_ports_listening(RTPE_CLI, RTPE_CLI):
            raise RuntimeError(f"peer ports busy ({PEER_SIP}, {RTPE_NG}/udp or {RTPE_CLI}/tcp): a leftover peer?")
        self.run_dir = self.ctx.out / f"peer-{tag}"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.ctx.peer_run_dirs.append(self.run_dir)
        env = dict(os.environ, PEER_RUN_DIR=str(self.run_dir))
        r = subprocess.run([str(peers / "run-peer.sh"), self.mode], env=env, timeout=60,
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

    def srtp_peers(self) -> Path:
        """The shared peer folder copied with one change for SDES-SRTP↔RTP: rtpengine_manage()
        on the answer without the `RTP/AVP` flag. The offer keeps it (the callee gets plain
        RTP); on the answer, rtpengine then restores the caller's own profile (RTP/SAVP, with
        an a=crypto of its own) and so decrypts and encrypts, as its documentation describes.
        As shared, the flag on the answer makes the caller's side plain RTP/AVP too, and an
        SRTP caller's packets would pass through still encrypted."""
        dst = self.ctx.out / "peers-srtp"
        if not dst.exists():
            shutil.copytree(PEERS, dst)
            cfg = dst / "kamailio.cfg"
            text = cfg.read_text()
            reply = text.split("onreply_route[REPLY] {", 1)
            old = 'rtpengine_manage("replace-origin replace-session-connection ICE=remove RTP/AVP");'
            if len(reply) != 2 or old not in reply[1]:
                raise RuntimeError("kamailio.cfg changed: its reply route's rtpengine_manage() not found")
            new = 'rtpengine_manage("replace-origin replace-session-connection ICE=remove");'
            cfg.write_text(reply[0] + "onreply_route[REPLY] {" + reply[1].replace(old, new, 1))
        return dst

    def prompt_peers(self, prompt: Path) -> Path:
        """The shared peer folder copied with one change for the prompt runs: on the callee's
        200, after rtpengine_manage(), play_media() plays the prompt (a WAV file)
        to the caller, looped, through rtpengine's media player (which decodes the file and
        encodes it into the call's codec)."""
        dst = self.ctx.out / "peers-prompt"
        if not dst.exists():
            shutil.copytree(PEERS, dst)
            cfg = dst / "kamailio.cfg"
            text = cfg.read_text()
            reply = text.split("onreply_route[REPLY] {", 1)
            old = 'rtpengine_manage("replace-origin replace-session-connection ICE=remove RTP/AVP");'
            if len(reply) != 2 or old not in reply[1]:
                raise RuntimeError("kamailio.cfg changed: its reply route's rtpengine_manage() not found")
            new = (old + '\n\t\tif (t_check_status("200")) {\n'
                   f'\t\t\tplay_media("from-tag=$ft file={prompt} repeat-times=1000");\n'
                   '\t\t}')
            cfg.write_text(reply[0] + "onreply_route[REPLY] {" + reply[1].replace(old, new, 1))
        return dst

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

# Overload control off in effect: the peer sheds no load, and max CPS is where calls
# start to fail, not where voxgate starts refusing them (which it does at 90 % busy).
# Only for binaries that know the keys (older ones, compared before/after, refuse them).
OVERLOAD_OFF = """
[protection]
overload_busy_percent = 100
overload_busy_clear_percent = 99
overload_queue = 1000000
overload_queue_clear = 999999
"""


def voxgate_config(overload_keys: bool) -> str:
    """VOXGATE_CONFIG, with overload control out of reach when the binary has it."""
    if not overload_keys:
        return VOXGATE_CONFIG
    at = VOXGATE_CONFIG.index("\n# The same 4 MiB socket buffers")
    return VOXGATE_CONFIG[:at] + OVERLOAD_OFF + VOXGATE_CONFIG[at:]


def knows_overload_keys(binary: Path) -> bool:
    """Whether `binary`'s documented sample config has the overload keys."""
    try:
        out = subprocess.run([str(binary), "default-config"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return "overload_busy_percent" in out.stdout


# The prompt runs' tail of VOXGATE_CONFIG (in place of its route to the UAS).
PROMPT_CONFIG = """# Every call to the call-control API: its client answers and plays the prompt.
[api]
listen = "127.0.0.1:{api}"
tokens = [ {{ name = "bench", sha256 = "{sha}" }} ]

[[prompt]]
name = "bench-prompt"
file = "{wav}"

[[route]]
name = "api"
match_user = {{ prefix = "" }}
control = "api"
"""
