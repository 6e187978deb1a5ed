"""Driving SIPp: the callee (uas_bench.xml), the caller (one run of a scenario at a rate),
and the caller's -trace_stat statistics."""

from __future__ import annotations

import csv
import subprocess
import time
from pathlib import Path

import procfs
from common import SIPP_COMMON, SIPP_UAC, UAC_MP, UAC_PORT, UAS_MP, UAS_PORT, Ctx


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
    # Achieved creation rate: between the first and the last 1-second statistics row taken
    # while calls were still being created (both inside the creation period, so neither
    # SIPp's start nor the partial last second skews it).
    during = [r for r in rows if 0 < stat_int(r, "TotalCallCreated") < created]
    achieved = 0.0
    if len(during) >= 2 and during[-1]["_t"] > during[0]["_t"]:
        a, b = during[0], during[-1]
        achieved = (stat_int(b, "TotalCallCreated") - stat_int(a, "TotalCallCreated")) / (b["_t"] - a["_t"])
    elif created > 0:
        done = next((r for r in rows if stat_int(r, "TotalCallCreated") >= created), rows[-1])
        achieved = created / max(1e-3, done["_t"] - rows[0]["_t"])
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
