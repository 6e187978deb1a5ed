#!/usr/bin/env python3
"""benches/compare: voxgate against Kamailio + rtpengine, side by side, on loopback.

Run through the `benches/compare` wrapper (it installs the Debian packages and builds voxgate).
See benches/README.md ("Comparison") for what each side runs and how each figure is measured.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import latency  # noqa: E402
import procfs  # noqa: E402
import srtp  # noqa: E402
from common import GEN_MP, HERE, PEERS, PROMPT_TOKEN, ROOT, UAC_PORT, UAS_MP, UAS_PORT, VOX_API, Ctx  # noqa: E402
from prompt_client import PromptClient  # noqa: E402
from report import build_table, render  # noqa: E402
from sipp import sipp_outcome, start_uac, start_uas  # noqa: E402
from systems import Peer, Voxgate  # noqa: E402


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
            if ctx.time_left() < 2 * hold + 60:
                ctx.note(f"{sut.label}: CPS ramp stopped before {rate} calls/s (time budget)")
                break
            r = cps_step(ctx, sut, uas, rate, f"{sut.key}-cps-{rate}")
            if r["aborted"]:
                # Not a result: SIPp was stopped from outside (another user's clean-up) or
                # crashed. Once more with a fresh callee; a second abort counts as a failure.
                ctx.note(f"{sut.label} {rate} calls/s: {r['aborted']}; step repeated")
                time.sleep(3)
                ctx.stop(uas)
                uas = start_uas(ctx, f"{sut.key}-cps-{rate}-again", echo=False)
                r = cps_step(ctx, sut, uas, rate, f"{sut.key}-cps-{rate}-again")
                if r["aborted"]:
                    ctx.note(f"{sut.label} {rate} calls/s: {r['aborted']} again")
                    r["pass"] = False
            steps.append(r)
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


def cps_step(ctx: Ctx, sut, uas: subprocess.Popen, rate: int, tag: str) -> dict:
    """One step of the ramp: rate x hold calls; CPU over the steady part."""
    hold = ctx.args.hold
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
    uas_gone = uas.poll() is not None
    try:
        uac.wait(hold + 60)
    except subprocess.TimeoutExpired:
        ctx.stop(uac)
    ended = time.monotonic() - t0
    sip1 = procfs.udp_drops(sut.sip_port, sut.sip_port)
    sipp_drops1 = procfs.udp_drops(UAS_PORT, UAS_PORT) + procfs.udp_drops(UAC_PORT, UAC_PORT)
    r = sipp_outcome(ctx, tag, calls)
    dt = c1[0] - c0[0]
    r.update(rate=rate, sut_cpu=cpu_pct(c1[1] - c0[1], dt), sipp_cpu=cpu_pct(c1[2] - c0[2], dt),
             window_s=dt, sut_sip_drops=sip1 - sip0, sipp_drops=sipp_drops1 - sipp_drops0,
             sipp_rc=uac.returncode)
    # The caller can only end before the hold (it has -l and -timeout hold+30 s) when it is
    # stopped by a signal or crashes; the callee never ends by itself.
    r["aborted"] = ""
    if uas_gone:
        r["aborted"] = f"the SIPp callee ended during the step (status {uas.returncode})"
    elif r["created"] < calls and ended < hold - 1:
        r["aborted"] = (f"the SIPp caller ended after {ended:.1f} s having created {r['created']} of "
                        f"{calls} calls (status {uac.returncode})")
    r["pass"] = not r["aborted"] and r["fail_pct"] < 0.1 and r["achieved"] >= 0.95 * rate
    ctx.log(f"{sut.label} {rate} calls/s: {r['achieved']:.0f} achieved, {r['failed']}/{calls} failed "
            f"({r['fail_pct']:.3f}%), SUT {r['sut_cpu']:.0f}% CPU, SIPp {r['sipp_cpu']:.0f}%, "
            f"SIP socket drops {r['sut_sip_drops']}, SIPp socket drops {r['sipp_drops']} "
            f"-> {'pass' if r['pass'] else 'ABORTED' if r['aborted'] else 'FAIL'}")
    sut.snapshot(tag)
    return r


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
        if uas.poll() is not None or out["created"] < rate * secs:
            ctx.note(f"{sut.label} latency run: SIPp ended early (caller status {uac.returncode}, "
                     f"{out['created']} of {rate * secs} calls created)")
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


def start_mediagen(ctx: Ctx, tag: str) -> subprocess.Popen | None:
    """The callers' RTP source (--media-source mediagen): one UDP socket on GEN_MP, started per
    run so its totals (mediagen-TAG.out) are the run's. None with --media-source sipp."""
    if ctx.args.media_source != "mediagen":
        return None
    if procfs.udp_ports_bound(GEN_MP, GEN_MP):
        raise RuntimeError(f"port {GEN_MP}/udp is taken (a leftover mediagen?)")
    p = ctx.start(f"mediagen-{tag}", [ctx.args.mediagen_bin, "--listen", f"127.0.0.1:{GEN_MP}",
                                      "--stream", f"plain={ctx.scen / 'g711a.pcap'}",
                                      "--stream", f"srtp={ctx.scen / 'srtp.pcap'}"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not procfs.udp_ports_bound(GEN_MP, GEN_MP):
        if p.poll() is not None:
            raise RuntimeError(f"mediagen exited at start; see mediagen-{tag}.out")
        time.sleep(0.05)
    return p


def media_run(ctx: Ctx, sut, n: int, srtp: bool = False) -> dict:
    """n concurrent calls with RTP echoed by the UAS; CPU over the plateau (all n calls up),
    packets relayed vs expected, memory idle vs peak. With `srtp`, the caller sends SDES-SRTP
    (uac_srtp.xml) and the callee plain RTP: the SUT decrypts one way and encrypts the other."""
    kind = "srtp" if srtp else "media"
    what = "SRTP↔RTP" if srtp else "RTP"
    tag = f"{sut.key}-{kind}-{n}"
    problems: list[str] = []
    rate = max(10, math.ceil(n / ctx.args.media_ramp_s))
    ramp = n / rate
    call_s = ctx.call_seconds
    if ramp + 4 > call_s:
        raise RuntimeError(f"{n} calls at {rate}/s do not all overlap within one {call_s:.1f} s call")
    sut.start(f"{kind}-{n}", srtp=srtp)
    uas = start_uas(ctx, tag, echo=True)
    gen = start_mediagen(ctx, tag)
    sampler = None
    try:
        time.sleep(1.0)
        idle = sut.mem_sample()
        relayed0 = sut.relayed()
        sampler = MemSampler(sut)
        sampler.start()
        t0 = time.monotonic()
        uac = start_uac(ctx, tag, sut.sip_port, "uac_srtp.xml" if srtp else "uac_rtp.xml", rate, n, limit=n,
                        timeout_s=int(ramp + call_s + 40))
        drivers = [uac.pid, uas.pid] + ([gen.pid] if gen else [])
        # The plateau: from the last call's setup to just before the first call's BYE.
        sleep_until(t0 + ramp + 1.5, uac)
        c0 = (time.monotonic(), procfs.cpu_ticks(sut.pids()), procfs.cpu_ticks(drivers))
        sleep_until(t0 + call_s - 1.0, uac)
        c1 = (time.monotonic(), procfs.cpu_ticks(sut.pids()), procfs.cpu_ticks(drivers))
        # The SUT's media sockets close with their calls: read their drops before the BYEs.
        drops_sut = procfs.udp_drops(*sut.media)
        try:
            uac.wait(ramp + call_s + 60)
        except subprocess.TimeoutExpired:
            ctx.stop(uac)
        time.sleep(1.5)  # counters of the last packets and BYEs
        relayed1 = sut.relayed()
        # The callee's echo socket lives on: its drops are packets the SUT did relay to it.
        drops_echo = procfs.udp_drops(UAS_MP, UAS_MP + 3)
        sampled_peak = sampler.finish()
        peak = sut.peak_mem_kb(sampled_peak)
        out = sipp_outcome(ctx, tag, n)
        if uas.poll() is not None or out["created"] < n:
            ctx.note(f"{sut.label} {n} calls with {what}: SIPp ended early (caller status {uac.returncode}, "
                     f"callee {'gone' if uas.poll() is not None else 'up'}, {out['created']} of {n} calls "
                     f"created): figures of this run are not valid")
        dt = c1[0] - c0[0]
        expected = 2 * ctx.packets_per_call * out["ok"]
        relayed = (relayed1 - relayed0) if relayed0 is not None and relayed1 is not None else None
        out.update(
            n=n, rate=rate, window_s=dt,
            sut_cpu=cpu_pct(c1[1] - c0[1], dt), sipp_cpu=cpu_pct(c1[2] - c0[2], dt),
            relayed=relayed, expected=expected,
            # Every packet sent reaches the SUT twice (out, and echoed back) unless lost; a packet
            # the callee's socket dropped was relayed once and is never echoed.
            loss_pct=(100.0 * (expected - relayed - drops_echo) / expected)
            if relayed is not None and expected else None,
            e2e_loss_pct=(100.0 * (1 - relayed / expected)) if relayed is not None and expected else None,
            drops_sut=drops_sut, drops_echo=drops_echo,
            idle_kb=idle["mem_kb"], peak_kb=peak, sampled_peak_kb=sampled_peak,
            peak_sample=sampler.peak_sample,
        )
        out["mem_per_call_kb"] = (peak - idle["mem_kb"]) / n
        out["cpu_ms_per_call_s"] = out["sut_cpu"] * 10.0 / n  # ms of CPU per second per call
        sut.snapshot(tag)
        if not sut.alive():
            problems.append(f"{sut.label} died during the {n}-call {kind} run")
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.finish()
        ctx.stop(uas)
        ctx.stop(gen)
        problems += sut.stop()
    for p in problems:
        ctx.note(p)
    loss = "n/a" if out["loss_pct"] is None else f"{out['loss_pct']:.3f}% in the SUT, {out['e2e_loss_pct']:.3f}% end to end"
    ctx.log(f"{sut.label} {n} calls with {what}: {out['ok']}/{n} ok, SUT {out['sut_cpu']:.1f}% CPU, "
            f"SIPp {out['sipp_cpu']:.0f}%, relayed {out['relayed']}/{expected} (loss {loss}), "
            f"socket drops SUT {drops_sut} echo {drops_echo}, memory {out['idle_kb'] / 1024:.1f} -> "
            f"{peak / 1024:.1f} MiB ({out['mem_per_call_kb']:.1f} KiB/call)")
    return out


def prompt_run(ctx: Ctx, sut, n: int) -> dict:
    """n concurrent calls to which the SUT plays a prompt, looped, from the moment they are
    answered, while the caller sends its own RTP (uac_rtp.xml): voxgate answers each call
    itself through the call-control API (prompt_client.py: answer, then play), the peer
    forwards it to the UAS (which sends no RTP) and has rtpengine play the prompt to the
    caller on the 200 (systems.Peer.prompt_peers). CPU over the plateau and memory as in
    media_run; the prompt's packets that reached the caller are counted in a capture on lo."""
    tag = f"{sut.key}-prompt-{n}"
    problems: list[str] = []
    rate = max(10, math.ceil(n / ctx.args.media_ramp_s))
    ramp = n / rate
    call_s = ctx.call_seconds
    if ramp + 4 > call_s:
        raise RuntimeError(f"{n} calls at {rate}/s do not all overlap within one {call_s:.1f} s call")
    sut.start(f"prompt-{n}", prompt=ctx.prompt_wav)
    client = PromptClient(f"127.0.0.1:{VOX_API}", PROMPT_TOKEN, "bench-prompt") if sut.key == "voxgate" else None
    if client is not None:
        client.start()
    uas = start_uas(ctx, tag, echo=False)
    gen = start_mediagen(ctx, tag)
    pcap = ctx.out / f"{tag}.pcap"
    lo, hi = sut.media
    cap = ctx.start(f"dumpcap-{tag}", ["dumpcap", "-q", "-i", "lo", "-s", "64", "-w", str(pcap), "-f",
                                       f"udp and dst port {ctx.caller_mp} and src portrange {lo}-{hi}"])
    sampler = None
    out: dict = {}
    try:
        time.sleep(1.0)
        idle = sut.mem_sample()
        sampler = MemSampler(sut)
        sampler.start()
        t0 = time.monotonic()
        uac = start_uac(ctx, tag, sut.sip_port, "uac_rtp.xml", rate, n, limit=n,
                        timeout_s=int(ramp + call_s + 40))
        drivers = [uac.pid, uas.pid] + ([gen.pid] if gen else [])
        sleep_until(t0 + ramp + 1.5, uac)
        c0 = (time.monotonic(), procfs.cpu_ticks(sut.pids()), procfs.cpu_ticks(drivers))
        sleep_until(t0 + call_s - 1.0, uac)
        c1 = (time.monotonic(), procfs.cpu_ticks(sut.pids()), procfs.cpu_ticks(drivers))
        try:
            uac.wait(ramp + call_s + 60)
        except subprocess.TimeoutExpired:
            ctx.stop(uac)
        time.sleep(1.5)
        ctx.stop(cap, signal.SIGINT)
        sampled_peak = sampler.finish()
        peak = sut.peak_mem_kb(sampled_peak)
        out = sipp_outcome(ctx, tag, n)
        dt = c1[0] - c0[0]
        heard = capture_count(pcap)
        pcap.unlink(missing_ok=True)
        out.update(
            n=n, rate=rate, window_s=dt,
            sut_cpu=cpu_pct(c1[1] - c0[1], dt), sipp_cpu=cpu_pct(c1[2] - c0[2], dt),
            idle_kb=idle["mem_kb"], peak_kb=peak, sampled_peak_kb=sampled_peak,
            # A 20 ms prompt frame every 20 ms of each call's answered time.
            heard=heard, heard_per_call_s=(heard / (out["ok"] * call_s)) if heard and out["ok"] else None,
        )
        out["mem_per_call_kb"] = (peak - idle["mem_kb"]) / n
        out["cpu_ms_per_call_s"] = out["sut_cpu"] * 10.0 / n
        if client is not None:
            out["client"] = client.finish()
            client = None
            if out["client"]["error_count"]:
                problems.append(f"the prompt client saw {out['client']['error_count']} errors: "
                                f"{out['client']['errors']}")
        sut.snapshot(tag)
        if not sut.alive():
            problems.append(f"{sut.label} died during the {n}-call prompt run")
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.finish()
        if client is not None:
            client.finish()
        ctx.stop(cap, signal.SIGINT)
        ctx.stop(uas)
        ctx.stop(gen)
        problems += sut.stop()
    for p in problems:
        ctx.note(p)
    ctx.log(f"{sut.label} {n} calls with a prompt: {out.get('ok')}/{n} ok, SUT {out.get('sut_cpu', 0):.1f}% CPU, "
            f"SIPp {out.get('sipp_cpu', 0):.0f}%, prompt packets heard by the caller {out.get('heard')} "
            f"({fmt_rate(out.get('heard_per_call_s'))} per call-second, 50 expected), memory "
            f"{out.get('idle_kb', 0) / 1024:.1f} -> {out.get('peak_kb', 0) / 1024:.1f} MiB "
            f"({out.get('mem_per_call_kb', 0):.1f} KiB/call)")
    return out


def fmt_rate(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}"


def capture_count(pcap: Path) -> int | None:
    """Packets in a capture file (capinfos), None when it cannot be read."""
    try:
        r = subprocess.run(["capinfos", "-c", "-M", str(pcap)], stdout=subprocess.PIPE, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in r.stdout.splitlines():
        if "Number of packets" in line:
            return int(line.rsplit(":", 1)[1].strip())
    return None


def write_prompt_wav(path: Path, seconds: int = 10) -> None:
    """The prompt both systems play: 8 kHz mono 16-bit PCM, a 440 Hz tone at -10 dBFS."""
    import wave
    frames = bytearray()
    for i in range(8000 * seconds):
        frames += int(10362 * math.sin(2 * math.pi * 440 * i / 8000)).to_bytes(2, "little", signed=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(frames))


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
    # The SRTP caller: the same call, its plays as one capture protected with the key it offers.
    n = srtp.srtp_capture(str(ctx.scen / "g711a.pcap"), str(ctx.scen / "srtp.pcap"), plays, pauses[0] / 1000.0)
    if n != ctx.packets_per_call:
        raise RuntimeError(f"srtp.pcap has {n} packets, {ctx.packets_per_call} expected")
    plain_m = "m=audio [media_port] RTP/AVP 8 101"
    plays_xml = "".join(f'  <nop><action><exec play_pcap_audio="g711a.pcap"/></action></nop>\n'
                        f'  <pause milliseconds="{ms}"/>\n' for ms in pauses)
    if rtp.count(plain_m) != 1 or rtp.count(plays_xml) != 1:
        raise RuntimeError("uac_rtp.xml changed: expected one audio line and its plays back to back")
    srtp_xml = rtp.replace(plain_m, f"m=audio [media_port] RTP/SAVP 8 101\n"
                                    f"      a=crypto:1 {srtp.SUITE} inline:{srtp.inline_key()}")
    srtp_xml = srtp_xml.replace(plays_xml, '  <nop><action><exec play_pcap_audio="srtp.pcap"/></action></nop>\n'
                                           f'  <pause milliseconds="{sum(pauses)}"/>\n')
    if ctx.args.media_source == "mediagen":
        rtp = mediagen_scenario(rtp, plain_m, plays_xml, f"plain {plays} {pauses[0]}", sum(pauses))
        srtp_xml = mediagen_scenario(srtp_xml, "m=audio [media_port] RTP/SAVP 8 101",
                                     '  <nop><action><exec play_pcap_audio="srtp.pcap"/></action></nop>\n'
                                     f'  <pause milliseconds="{sum(pauses)}"/>\n', "srtp 1 0", sum(pauses))
        ctx.caller_mp = GEN_MP
    (ctx.scen / "uac_rtp.xml").write_text(rtp, encoding="latin-1")
    (ctx.scen / "uac_srtp.xml").write_text(srtp_xml, encoding="latin-1")
    ctx.log(f"scenarios: {pkts} RTP packets x {plays} plays = {ctx.packets_per_call} packets per call "
            f"each way, calls of {ctx.call_seconds:.1f} s")


ANSWER_200 = '<recv response="200" rtd="true" rrs="true"/>'


def mediagen_scenario(xml: str, m_line: str, plays_xml: str, stream: str, pause_ms: int) -> str:
    """A caller scenario whose RTP mediagen sends: the offer names mediagen's socket, the
    answer's address is read from the 200, and one `start` datagram (bash's /dev/udp, once per
    call, during the ramp and not in the measured plateau) replaces the pcap plays; the call
    lasts as long as before."""
    for part in (m_line, plays_xml, ANSWER_200):
        if xml.count(part) != 1:
            raise RuntimeError(f"caller scenario changed: expected one {part!r}")
    xml = xml.replace(m_line, m_line.replace("[media_port]", str(GEN_MP)))
    xml = xml.replace(ANSWER_200, ANSWER_200[:-2] + '>\n    <action>\n'
                      '      <ereg regexp="c=IN IP4 ([0-9.]+)" search_in="msg" check_it="true" assign_to="c_line,rip"/>\n'
                      '      <ereg regexp="m=audio ([0-9]+)" search_in="msg" check_it="true" assign_to="m_line,rport"/>\n'
                      '    </action>\n  </recv>')
    start = (f"bash -c 'echo start [call_number] [$rip] [$rport] {stream} "
             f">/dev/udp/127.0.0.1/{GEN_MP}' # [$c_line] [$m_line]")
    # A literal '>' (legal in an XML attribute): SIPp does not decode entities in commands.
    return xml.replace(plays_xml, f'  <nop><action><exec command="{start}"/></action></nop>\n'
                                  f'  <pause milliseconds="{pause_ms}"/>\n')


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


def guarded(ctx: Ctx, what: str, fn, *args):
    """Runs one measurement; a failure is noted (and the processes of that run are stopped by
    the measurement's own clean-up) so that the other measurements still run."""
    try:
        return fn(*args)
    except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as e:
        ctx.note(f"{what} failed: {e}")
        return None


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
    ap.add_argument("--cps-steps", type=parse_list, help="calls/s steps (default 500,1000,...,7000)")
    ap.add_argument("--hold", type=int, help="seconds per CPS step (default 20)")
    ap.add_argument("--media-calls", type=parse_list, help="concurrent calls with RTP (default 100,250,500)")
    ap.add_argument("--media-ramp-s", type=int, default=5, help="seconds to set up the media calls (default 5)")
    ap.add_argument("--peer-cps-rtpengine", choices=["yes", "no"],
                    help="also ramp the peer with rtpengine anchoring every call's media, as voxgate "
                         "always does (default yes; quick no)")
    ap.add_argument("--latency-cps", type=int,
                    help="rate of the latency run (default: half the lower of the two max CPS)")
    ap.add_argument("--latency-seconds", type=int, help="length of the latency run (default 20)")
    ap.add_argument("--only", choices=["voxgate", "peer"], help="measure one system only")
    ap.add_argument("--phases", default="cps,latency,media", help="subset of cps,latency,media,srtp,prompt "
                    "(srtp: the media run with an SDES-SRTP caller and a plain-RTP callee; prompt: each "
                    "call answered by the SUT, which plays a prompt to it)")
    ap.add_argument("--media-source", choices=["mediagen", "sipp"], default="mediagen",
                    help="what sends the callers' RTP: mediagen (default; one UDP socket) or SIPp's pcap "
                         "play (a raw socket per call, which the kernel makes every system pay for on "
                         "loopback: the runs before 2026-12-04 17:00)")
    ap.add_argument("--mediagen-bin", default=str(ROOT / "target" / "release" / "mediagen"),
                    help="the mediagen binary (the wrapper builds it)")
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
        a.peer_cps_rtpengine = a.peer_cps_rtpengine or "no"
        a.wait_quiet = 0 if a.wait_quiet is None else a.wait_quiet
    a.cps_steps = a.cps_steps or list(range(500, 7001, 500))
    a.hold = a.hold or 20
    a.media_calls = a.media_calls or [100, 250, 500]
    a.latency_seconds = a.latency_seconds or 20
    a.peer_cps_rtpengine = a.peer_cps_rtpengine or "yes"
    a.wait_quiet = 10 if a.wait_quiet is None else a.wait_quiet
    phases = set(a.phases.split(","))
    if not phases <= {"cps", "latency", "media", "srtp", "prompt"}:
        ap.error("--phases: cps, latency, media, srtp, prompt")
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
        # The time budget counts from here: the wait for a quiet machine is not measuring.
        ctx.started = time.monotonic()
        ctx.deadline = ctx.started + a.max_minutes * 60
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
            for key, sig, med in systems:
                ctx.log(f"--- max CPS: {sig.label}")
                res[key]["cps"] = guarded(ctx, f"CPS ramp of {sig.label}", cps_ramp, ctx, sig)
            if a.only != "voxgate" and a.peer_cps_rtpengine == "yes":
                med = systems[-1][2]
                ctx.log(f"--- max CPS: {med.label} (media anchored on every call, as voxgate does)")
                res["peer"]["cps_rtpengine"] = guarded(ctx, f"CPS ramp of {med.label}", cps_ramp, ctx, med)
        if "latency" in phases:
            rate = a.latency_cps
            if not rate:
                bests = [res[k]["cps"]["best"]["rate"] for k, _s, _m in systems
                         if (res[k].get("cps") or {}).get("best")]
                rate = max(100, min(bests) // 2) if bests else 100
            for key, sig, _media in systems:
                if ctx.time_left() < a.latency_seconds + 60:
                    ctx.note(f"latency run of {sig.label} skipped (time budget)")
                    continue
                ctx.log(f"--- latency: {sig.label} at {rate} calls/s")
                res[key]["latency"] = guarded(ctx, f"latency run of {sig.label}", latency_run, ctx, sig, rate)
        for kind in ("media", "srtp"):
            if kind not in phases:
                continue
            for key, _sig, med in systems:
                res[key][kind] = []
                for n in a.media_calls:
                    if ctx.time_left() < ctx.call_seconds + 60:
                        ctx.note(f"{kind} run of {med.label} with {n} calls skipped (time budget)")
                        continue
                    ctx.log(f"--- {n} calls with {'SRTP↔RTP' if kind == 'srtp' else 'RTP'}: {med.label}")
                    m = guarded(ctx, f"{n}-call {kind} run of {med.label}", media_run, ctx, med, n,
                                kind == "srtp")
                    if m:
                        res[key][kind].append(m)
        if "prompt" in phases:
            ctx.prompt_wav = out / "prompt.wav"
            write_prompt_wav(ctx.prompt_wav)
            for key, _sig, med in systems:
                res[key]["prompt"] = []
                for n in a.media_calls:
                    if ctx.time_left() < ctx.call_seconds + 60:
                        ctx.note(f"prompt run of {med.label} with {n} calls skipped (time budget)")
                        continue
                    ctx.log(f"--- {n} calls with a prompt: {med.label}")
                    m = guarded(ctx, f"{n}-call prompt run of {med.label}", prompt_run, ctx, med, n)
                    if m:
                        res[key]["prompt"].append(m)
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
            if dest.exists():
                # A second run the same day keeps the first: date, then start time.
                dest = dest.with_name(f"{started[:10]}-{started[11:13]}{started[14:16]}-{mach['host']}.md")
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
