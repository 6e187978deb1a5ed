"""The results: one table (each figure for both systems and the ratio voxgate/peer), the
per-step details behind it, and the results file."""

from __future__ import annotations

import math
import time

from common import Ctx

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

    def best_rate(c):
        if not c:
            return None
        return c["best"]["rate"] if c.get("best") else 0

    vc, pc = v.get("cps"), p.get("cps")
    vb = (vc or {}).get("best") or {}
    pb = (pc or {}).get("best") or {}
    if vc or pc:
        row(f"max CPS, < 0.1% failed, {args.hold} s steps (calls/s)", best_rate(vc), best_rate(pc), ".0f",
            better="higher")
        row("  achieved rate at that step (calls/s)", vb.get("achieved"), pb.get("achieved"), ".0f")
        row("  SUT CPU at that step (% of one core)", vb.get("sut_cpu"), pb.get("sut_cpu"), ".0f", "%")
        row("  SIPp CPU at that step, UAC + UAS (% of one core)", vb.get("sipp_cpu"), pb.get("sipp_cpu"), ".0f", "%")
        vpk = vb["sut_cpu"] / vb["achieved"] * 1000 if vb.get("achieved") else None
        ppk = pb["sut_cpu"] / pb["achieved"] * 1000 if pb.get("achieved") else None
        row("  SUT CPU per 1000 calls/s (% of one core)", vpk, ppk, ".1f", "%", "lower")
    prc = p.get("cps_rtpengine")
    if prc:
        prb = prc.get("best") or {}
        row("max CPS, peer with rtpengine anchoring media as voxgate does (calls/s)", best_rate(vc),
            best_rate(prc), ".0f", better="higher")
        vpk = vb["sut_cpu"] / vb["achieved"] * 1000 if vb.get("achieved") else None
        ppk = prb["sut_cpu"] / prb["achieved"] * 1000 if prb.get("achieved") else None
        row("  SUT CPU per 1000 calls/s, peer with rtpengine (% of one core)", vpk, ppk, ".1f", "%", "lower")
    vl, pl = v.get("latency"), p.get("latency")
    if vl or pl:
        rate = (vl or pl)["rate"]
        row(f"INVITE in→out p50 at {rate} calls/s (ms)", (vl or {}).get("p50"), (pl or {}).get("p50"), ".3f",
            better="lower")
        row(f"INVITE in→out p99 at {rate} calls/s (ms)", (vl or {}).get("p99"), (pl or {}).get("p99"), ".3f",
            better="lower")
        row(f"SUT CPU at {rate} calls/s (% of one core)", (vl or {}).get("sut_cpu"), (pl or {}).get("sut_cpu"),
            ".0f", "%", "lower")
    for kind, what in (("media", "RTP"), ("srtp", "SRTP↔RTP")):
        vm = {m["n"]: m for m in v.get(kind, [])}
        pm = {m["n"]: m for m in p.get(kind, [])}
        for n in args.media_calls:
            a, b = vm.get(n), pm.get(n)
            if not a and not b:
                continue
            a, b = a or {}, b or {}
            row(f"{n} calls with {what}: SUT CPU (% of one core)", a.get("sut_cpu"), b.get("sut_cpu"), ".1f",
                "%", "lower")
            row(f"{n} {what} calls: CPU per relayed call (ms CPU per s)", a.get("cpu_ms_per_call_s"),
                b.get("cpu_ms_per_call_s"), ".3f", better="lower")
            row(f"{n} {what} calls: packet loss in the SUT (relayed + callee drops vs sent)", a.get("loss_pct"),
                b.get("loss_pct"), ".3f", "%", "lower")
            row(f"{n} {what} calls: peak memory (MiB)", (a.get("peak_kb") or 0) / 1024 or None,
                (b.get("peak_kb") or 0) / 1024 or None, ".1f", better="lower")
            row(f"{n} {what} calls: memory per call (KiB)", a.get("mem_per_call_kb"), b.get("mem_per_call_kb"),
                ".1f", better="lower")
    vm = {m["n"]: m for m in v.get("prompt", [])}
    pm = {m["n"]: m for m in p.get("prompt", [])}
    for n in args.media_calls:
        a, b = vm.get(n), pm.get(n)
        if not a and not b:
            continue
        a, b = a or {}, b or {}
        row(f"{n} calls with a prompt: SUT CPU (% of one core)", a.get("sut_cpu"), b.get("sut_cpu"), ".1f", "%",
            "lower")
        row(f"{n} prompt calls: CPU per call (ms CPU per s)", a.get("cpu_ms_per_call_s"),
            b.get("cpu_ms_per_call_s"), ".3f", better="lower")
        row(f"{n} prompt calls: prompt packets heard per call-second (50 sent)", a.get("heard_per_call_s"),
            b.get("heard_per_call_s"), ".1f", better="higher")
        row(f"{n} prompt calls: peak memory (MiB)", (a.get("peak_kb") or 0) / 1024 or None,
            (b.get("peak_kb") or 0) / 1024 or None, ".1f", better="lower")
        row(f"{n} prompt calls: memory per call (KiB)", a.get("mem_per_call_kb"), b.get("mem_per_call_kb"),
            ".1f", better="lower")
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
        for ck, title in (("cps", "CPS ramp (uac_nomedia.xml, BYE at once)"),
                          ("cps_rtpengine", "CPS ramp with rtpengine anchoring each call's media")):
            if not r.get(ck):
                continue
            out.append(f"{title}:")
            out.append("")
            out.append("| target | achieved | calls | failed | failed % | SUT CPU | SIPp CPU | SIP socket drops | "
                       "SIPp socket drops | retrans | unexpected | result |")
            out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
            for s in r[ck]["steps"]:
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
        for kind, title in (("media", "Calls with RTP (uac_rtp.xml → uas_bench.xml -rtp_echo):"),
                            ("srtp", "Calls with SRTP↔RTP (uac_srtp.xml, SDES AES_CM_128_HMAC_SHA1_80 → "
                                     "uas_bench.xml -rtp_echo, plain RTP):")):
            if not r.get(kind):
                continue
            out.append(title)
            out.append("")
            out.append("| calls | setup rate | ok | SUT CPU | SIPp CPU | relayed | expected | echo socket drops | "
                       "loss in SUT | loss end to end | SUT socket drops | idle memory | peak memory | per call |")
            out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
            for m in r[kind]:
                out.append(f"| {m['n']} | {m['rate']}/s | {m['ok']} | {m['sut_cpu']:.1f}% | {m['sipp_cpu']:.0f}% | "
                           f"{m['relayed']} | {m['expected']} | {m['drops_echo']} | {fmt(m['loss_pct'], '.3f', '%')} | "
                           f"{fmt(m.get('e2e_loss_pct'), '.3f', '%')} | {m['drops_sut']} | "
                           f"{m['idle_kb'] / 1024:.1f} MiB | {m['peak_kb'] / 1024:.1f} MiB | "
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
        "Loss in the SUT: 1 - (packets the SUT's relay counted (voxgate_rtp_packets_relayed_total; rtpengine "
        "`list totals` \"Total relayed packets\") + packets the callee's echo socket dropped) / (2 x packets "
        "sent per call x calls completed); end-to-end loss, without the callee's drops, is in the details. "
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
