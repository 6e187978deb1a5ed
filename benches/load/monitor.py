#!/usr/bin/env python3
"""Samples a running voxgate for benches/load/run.sh, and prints the report.

  monitor.py sample PID ADMIN_URL OUT.jsonl STOP_FILE
      Every 0.5 s until STOP_FILE exists or PID is gone: one JSON line with the
      time, the process's CPU time (utime + stime from /proc/PID/stat), its
      VmHWM and VmRSS (/proc/PID/status) and a few counters from /metrics
      (INVITEs received, calls active, calls ended by outcome, RTP relayed).

  monitor.py report OUT.jsonl SIPP_SCREEN [--title T]
      The summary: calls attempted and succeeded (SIPp's final statistics
      screen), calls answered by voxgate, achieved CPS (INVITEs received over
      the ramp, between two samples inside it), voxgate's CPU (average over
      that span and the whole load, in % of one core; the busiest 1 s), peak
      RSS, RTP packets relayed and the mean setup latency.
"""

import json
import os
import re
import sys
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        # The command name is in parentheses and may hold spaces: split after it.
        rest = f.read().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of the whole line (utime, stime) are 12 and 13 after ")".
    return (int(rest[11]) + int(rest[12])) / TICK


def memory_kib(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


METRIC = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")


def metrics(url: str) -> dict:
    """The counters the report needs, summed over their labels as named."""
    want = {
        "voxgate_sip_requests_total": ('direction="in"', 'method="INVITE"'),
        "voxgate_calls_active": (),
        "voxgate_rtp_packets_relayed_total": (),
        "voxgate_call_setup_seconds_sum": ('stage="answer"',),
        "voxgate_call_setup_seconds_count": ('stage="answer"',),
    }
    out = {k: 0.0 for k in want}
    outcomes = {}
    with urllib.request.urlopen(url, timeout=2) as r:
        text = r.read().decode()
    for line in text.splitlines():
        m = METRIC.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        if name in want and all(l in labels for l in want[name]):
            out[name] += value
        if name == "voxgate_calls_total":
            o = re.search(r'outcome="([^"]*)"', labels)
            if o:
                outcomes[o.group(1)] = outcomes.get(o.group(1), 0) + value
    out["calls_by_outcome"] = outcomes
    return out


def sample(pid: int, url: str, out_path: str, stop: str) -> None:
    with open(out_path, "w", encoding="utf-8") as out:
        while not os.path.exists(stop):
            try:
                row = {"t": time.monotonic(), "cpu": cpu_seconds(pid), **memory_kib(pid)}
            except (FileNotFoundError, ProcessLookupError):
                break
            try:
                row["m"] = metrics(url)
            except Exception as e:  # noqa: BLE001 - a missed scrape is recorded, not fatal
                row["m_error"] = str(e)
            out.write(json.dumps(row) + "\n")
            out.flush()
            time.sleep(0.5)


def sipp_totals(screen: str) -> dict:
    """Cumulative counters of SIPp's last statistics screen."""
    totals = {}
    try:
        with open(screen, encoding="latin-1") as f:
            text = f.read()
    except FileNotFoundError:
        return totals
    for key in ("Outgoing calls created", "Successful call", "Failed call"):
        found = re.findall(rf"^\s*{key}\s*\|[^|]*\|\s*(\d+)", text, re.M)
        if found:
            totals[key] = int(found[-1])
    return totals


def report(path: str, screen: str, title: str) -> None:
    rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
    rows = [r for r in rows if "m" in r]
    if len(rows) < 2:
        print("not enough samples to report")
        sys.exit(1)
    inv = [r["m"]["voxgate_sip_requests_total"] for r in rows]
    base = inv[0]
    # The load window: from the sample before the first INVITE to the one where the
    # last INVITE had arrived and every call had ended.
    first = next((i for i, v in enumerate(inv) if v > base), None)
    if first is None:
        print("voxgate received no INVITE")
        sys.exit(1)
    start = max(first - 1, 0)
    total_inv = inv[-1] - base
    last_inv = next(i for i, v in enumerate(inv) if v == inv[-1])
    done = next(
        (i for i in range(last_inv, len(rows)) if rows[i]["m"]["voxgate_calls_active"] == 0),
        len(rows) - 1,
    )
    span_inv = rows[last_inv]["t"] - rows[start]["t"]
    # The rate between two samples inside the ramp (the first with INVITEs, the last
    # before the final one): no half-interval bias at either end.
    i2 = max((i for i, v in enumerate(inv) if v < inv[-1]), default=first)
    if i2 > first:
        cps = (inv[i2] - inv[first]) / (rows[i2]["t"] - rows[first]["t"])
    else:
        cps = (total_inv / span_inv) if span_inv > 0 else float("nan")
    # CPU: while calls are being created, and over the whole load (until the last call ended).
    def cpu_pct(a: int, b: int) -> float:
        dt = rows[b]["t"] - rows[a]["t"]
        return 100.0 * (rows[b]["cpu"] - rows[a]["cpu"]) / dt if dt > 0 else float("nan")

    busiest = max(
        (cpu_pct(i, j) for i in range(start, done) for j in [i + 2] if j <= done),
        default=float("nan"),
    )
    hwm = max(r.get("VmHWM", 0) for r in rows)
    idle_rss = rows[0].get("VmRSS", 0)
    m0, m1 = rows[0]["m"], rows[-1]["m"]
    outcomes = {
        k: int(v - m0["calls_by_outcome"].get(k, 0)) for k, v in m1["calls_by_outcome"].items()
    }
    answered = outcomes.get("answered", 0)
    rtp = int(m1["voxgate_rtp_packets_relayed_total"] - m0["voxgate_rtp_packets_relayed_total"])
    load_s = rows[done]["t"] - rows[start]["t"]
    n_setup = m1["voxgate_call_setup_seconds_count"] - m0["voxgate_call_setup_seconds_count"]
    setup = (
        (m1["voxgate_call_setup_seconds_sum"] - m0["voxgate_call_setup_seconds_sum"]) / n_setup * 1e3
        if n_setup
        else float("nan")
    )
    sipp = sipp_totals(screen)
    print(title)
    print(f"calls attempted:     {sipp.get('Outgoing calls created', '?')} (SIPp), {int(total_inv)} INVITEs reached voxgate")
    print(f"calls succeeded:     {sipp.get('Successful call', '?')} (SIPp; failed: {sipp.get('Failed call', '?')}), "
          f"{answered} answered by voxgate (outcomes: {json.dumps(outcomes, sort_keys=True)})")
    print(f"achieved CPS:        {cps:.1f} (INVITEs received per second while calls were placed; all in {span_inv:.1f} s)")
    print(f"voxgate CPU:         {cpu_pct(start, last_inv):.1f} % of one core while calls were created, "
          f"{cpu_pct(start, done):.1f} % over the whole load ({load_s:.0f} s), busiest 1 s {busiest:.0f} %")
    print(f"voxgate peak RSS:    {hwm / 1024:.1f} MiB (VmHWM; {idle_rss / 1024:.1f} MiB before the load)")
    print(f"RTP relayed:         {rtp} packets ({rtp / load_s:.0f} packets/s over the load)" if load_s > 0 else f"RTP relayed: {rtp}")
    print(f"setup latency:       {setup:.2f} ms mean, INVITE in -> 200 out ({int(n_setup)} calls)")


def main() -> None:
    if len(sys.argv) >= 6 and sys.argv[1] == "sample":
        sample(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
    elif len(sys.argv) >= 4 and sys.argv[1] == "report":
        title = sys.argv[5] if len(sys.argv) >= 6 and sys.argv[4] == "--title" else ""
        report(sys.argv[2], sys.argv[3], title)
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
