"""Print each rule's job count and summed wall seconds from the newest Snakemake log of a run.

Usage: ``python studies/fit-speed/rule_seconds.py RUN_DIR``. A job's seconds run from the timestamp before its
``rule X:`` line to the one before its ``Finished jobid: N`` line (Snakemake logs to whole seconds); jobs that
ran side by side each count their own seconds, so the sums may exceed the run's wall time.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"\[(\w+ \w+ +\d+ [\d:]+ \d+)\]")
RULE = re.compile(r"(?:local)?rule (\w+):")
JOB = re.compile(r"\s+jobid: (\d+)")
FINISHED = re.compile(r"Finished jobid: (\d+)")


def rule_seconds(log: Path) -> dict[str, list[float]]:
    """Return rule name -> the wall seconds of each of its finished jobs in ``log``."""
    now = rule = started = None
    jobs: dict[str, tuple[datetime, str]] = {}
    seconds: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        if m := STAMP.match(line):
            now = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
        elif m := RULE.match(line):
            rule, started = m.group(1), now
        elif (m := JOB.match(line)) and rule is not None:
            jobs[m.group(1)] = (started, rule)
        elif (m := FINISHED.match(line)) and m.group(1) in jobs:
            start, name = jobs[m.group(1)]
            seconds.setdefault(name, []).append((now - start).total_seconds())
    return seconds


if __name__ == "__main__":
    newest = sorted(Path(sys.argv[1]).glob(".snakemake/log/*.snakemake.log"))[-1]
    table = rule_seconds(newest)
    for name, values in sorted(table.items(), key=lambda item: -sum(item[1])):
        print(f"{name:24s} jobs {len(values):3d}  sum {sum(values):6.0f} s  longest {max(values):5.0f} s")
    print(f"{'all':24s} jobs {sum(map(len, table.values())):3d}  sum {sum(map(sum, table.values())):6.0f} s  ({newest.name})")
