#!/usr/bin/env python3
"""Checks the operator files in ops/ against README and a running voxgate.

  ops.py metrics --readme README.md --url http://ADMIN/metrics FILE...
      Every metric the FILEs use (a Grafana dashboard's JSON: its panels'
      and variables' queries; Prometheus rules: their expressions) must be
      in README's metric table and in the live /metrics at URL. A
      histogram's _bucket, _sum and _count count as the histogram. Names
      with a colon are recording rules (defined in the rules file, not
      metrics). The dashboard must be valid JSON with panels; the rules
      file must hold groups of rules each with an expr and an alert or a
      record (parsed with PyYAML when it is installed). Exit 0, or one line
      a problem.
"""

import argparse
import json
import re
import sys
import urllib.request

NAME = re.compile(r"\b((?:voxgate|process)_[a-z0-9_]+)\b")
SUFFIXES = ("_bucket", "_sum", "_count")


def readme_metrics(path: str) -> set:
    names = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\| `((?:voxgate|process)_[a-z0-9_]+)` \|", line)
            if m:
                names.add(m.group(1))
    return names


def dashboard_exprs(path: str, problems: list) -> list:
    with open(path, encoding="utf-8") as f:
        try:
            d = json.load(f)
        except json.JSONDecodeError as e:
            problems.append(f"{path}: not JSON: {e}")
            return []
    if not d.get("panels"):
        problems.append(f"{path}: no panels")
    exprs = []
    for p in d.get("panels", []):
        targets = p.get("targets") or []
        if not targets:
            problems.append(f"{path}: panel {p.get('title')!r} has no query")
        exprs += [t.get("expr", "") for t in targets]
    for v in d.get("templating", {}).get("list", []):
        q = v.get("query")
        exprs.append(q.get("query", "") if isinstance(q, dict) else str(q or ""))
    return exprs


def rules_exprs(path: str, problems: list) -> list:
    text = open(path, encoding="utf-8").read()
    try:
        import yaml  # noqa: PLC0415 - optional: the names are checked without it
    except ImportError:
        return [text]
    doc = yaml.safe_load(text)
    exprs = []
    for g in doc.get("groups", []):
        for r in g.get("rules", []):
            if "expr" not in r or not ("alert" in r or "record" in r):
                problems.append(f"{path}: group {g.get('name')}: a rule without expr and alert/record: {r}")
                continue
            exprs.append(str(r["expr"]))
    if not exprs:
        problems.append(f"{path}: no rules")
    return exprs


def base(name: str, known: set) -> str:
    for s in SUFFIXES:
        if name.endswith(s) and name[: -len(s)] in known:
            return name[: -len(s)]
    return name


def cmd_metrics(a) -> None:
    problems = []
    documented = readme_metrics(a.readme)
    if len(documented) < 10:
        sys.exit(f"{a.readme}: found only {len(documented)} metrics in its table")
    with urllib.request.urlopen(a.url, timeout=5) as r:
        live_text = r.read().decode()
    live = {line.split("{")[0].split(" ")[0] for line in live_text.splitlines()
            if line and not line.startswith("#")}
    used = {}
    for path in a.files:
        exprs = dashboard_exprs(path, problems) if path.endswith(".json") else rules_exprs(path, problems)
        for e in exprs:
            for n in NAME.findall(e):
                used.setdefault(n, set()).add(path)
    if not used:
        problems.append("the files use no metric")
    for n, where in sorted(used.items()):
        b = base(n, documented)
        if b not in documented:
            problems.append(f"{n} (in {', '.join(sorted(where))}) is not in {a.readme}'s metric table")
        if n not in live and not (n == b and any(n + s in live for s in SUFFIXES)):
            problems.append(f"{n} (in {', '.join(sorted(where))}) is not in the live {a.url}")
    if problems:
        sys.exit("; ".join(problems))
    print(f"{len(used)} metrics used, each documented and live")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("metrics")
    c.add_argument("--readme", required=True)
    c.add_argument("--url", required=True)
    c.add_argument("files", nargs="+")
    a = p.parse_args()
    {"metrics": cmd_metrics}[a.cmd](a)


if __name__ == "__main__":
    main()
