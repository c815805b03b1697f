"""The benchmark suite behind `couponry bench`: numbers, not pass/fail tests.

Every figure is printed beside the raw limit measured in the same run on the same machine (the raw SQL
through pgbench, or the plainest bulk insert), with the ratio and the target from issue #2:

- pricing: the pricing core in process (pricing_core.py);
- validation: a 20-line cart with 3 codes over HTTP at 32 clients, SQLite and PostgreSQL;
- redemption: a hot open code and 100,000 distinct personal codes, PostgreSQL, 4 server processes;
- codes: generating and storing 1,000,000 codes, SQLite and PostgreSQL (codes_core.py);
- distribution: a push to 100,000 customers (SQLite, PostgreSQL) and a segment count over
  1,000,000 customers (PostgreSQL), each beside the same rows or condition in raw SQL;
- cpu: server CPU time per request (validation, redemption) beside a bare FastAPI endpoint (cpu.py);
- latency: validation p99 at an open-loop fixed rate of half the maximum throughput (openloop.py).
- claims: claims on one hot campaign with stock, PostgreSQL, 4 server processes (claims.py).
- measuring: campaign stats over 1,000,000 redemptions beside the raw aggregate; rollups: redemption
  throughput with the roll-ups' machinery on and off, PostgreSQL (measuring.py).
- loyalty: earning on order.completed events over HTTP beside a raw ledger INSERT, and maturing
  1,000,000 pending lots beside the same rows in raw SQL, PostgreSQL (loyalty.py).

`run_all(quick, only)` returns the report as Markdown. Quick mode runs each part for seconds.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime

from couponry.bench.common import Section, machine, postgres_version

PARTS = (
    "pricing", "validation", "redemption", "codes", "distribution", "claims", "loyalty", "cpu", "latency",
    "measuring", "rollups",
)  # fmt: skip


def _runner(name: str) -> Callable[[bool], Section]:
    if name == "pricing":
        from couponry.bench.pricing import run
    elif name == "validation":
        from couponry.bench.validation import run
    elif name == "redemption":
        from couponry.bench.redemption import run
    elif name == "distribution":
        from couponry.bench.distribution import run
    elif name == "cpu":
        from couponry.bench.cpu import run
    elif name == "latency":
        from couponry.bench.openloop import run
    elif name == "claims":
        from couponry.bench.claims import run
    elif name == "measuring":
        from couponry.bench.measuring import run
    elif name == "rollups":
        from couponry.bench.measuring import run_throughput as run
    elif name == "loyalty":
        from couponry.bench.loyalty import run
    else:
        from couponry.bench.codes import run
    return run


def _command_line() -> str:
    argv = list(sys.argv)
    if argv and os.path.basename(argv[0]) in ("couponry", "cli.py", "__main__.py"):
        return "couponry " + " ".join(argv[1:])
    return "run_all() from " + " ".join([os.path.basename(argv[0])] + argv[1:]) if argv else "run_all()"


def _code_version() -> str:
    """The commit measured, and the files that differed from it when the run started."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    try:
        head = subprocess.run(
            ["git", "-C", root, "log", "-1", "--format=%h %s"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    if not head:
        return "not a git checkout"
    changed = [line[3:] for line in dirty if line.strip()]
    return f"commit {head}" + (f" (uncommitted changes in: {', '.join(changed)})" if changed else "")


def run_all(quick: bool = False, only: set[str] | None = None) -> str:
    """Run the chosen parts (all by default) and return the Markdown report."""
    chosen = [p for p in PARTS if only is None or p in only]
    unknown = sorted((only or set()) - set(PARTS))
    started = datetime.now(UTC)
    sections: list[Section] = []
    timings: list[str] = []
    for name in chosen:
        t0 = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        try:
            section = _runner(name)(quick)
        except Exception as exc:  # a broken part must not hide the others' figures
            section = Section(name, notes=[f"FAILED: {type(exc).__name__}: {exc}"])
            traceback.print_exc(file=sys.stderr)
        sections.append(section)
        timings.append(f"{name} {time.perf_counter() - t0:.0f} s")
    header = [
        "# Couponry benchmarks",
        "",
        f"- Command: `{_command_line()}`"
        + (" (quick mode: small runs, not figures of record)" if quick else ""),
        f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')}; took {', '.join(timings) or 'nothing'}",
        f"- Code: {_code_version()}",
        f"- Machine: {machine()}, {platform.platform(terse=True)}; {postgres_version()}",
        "- Each figure stands beside the raw limit measured in the same run on the same machine; "
        "ours/raw is the ratio the targets of issue #2 are set on.",
    ]
    if unknown:
        header.append(f"- Unknown parts ignored: {', '.join(unknown)} (known: {', '.join(PARTS)})")
    summary = ["", "## Summary", "", "| part | figure | target | met? |", "|---|---|---|---|"]
    for s in sections:
        for r in s.rows:
            if r.met is not None:
                shown = r.ratio if r.ratio != "-" else r.ours
                summary.append(
                    f"| {s.title} | {r.figure}: {shown} | {r.target} | {'yes' if r.met else '**no**'} |"
                )
    body = "\n".join(header + summary) + "\n\n" + "\n".join(s.markdown() for s in sections)
    return body
