"""Wall time of the demo suite per task, from its records (run ``make demo`` first).

Usage::

    .venv/bin/python scripts/demo_wall_times.py [--results results/demo] [--out FILE.csv]

Sums each run's ``provenance.wall_seconds`` per task (runs only, not data generation or
imports) and prints a Markdown table; ``--out`` writes a tidy CSV.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmark.engine.records import read_records
from benchmark.reporting.document import markdown_table


def main(argv: list[str] | None = None) -> int:
    """Print and optionally write per-task demo wall seconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results/demo"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    records = read_records(args.results)
    if not records:
        print(f"no records under {args.results}/records; run `make demo` first", file=sys.stderr)
        return 2
    seconds: dict[str, float] = defaultdict(float)
    runs: dict[str, int] = defaultdict(int)
    hosts = sorted({r.provenance.get("hostname", "?") for r in records})
    for record in records:
        seconds[record.task] += float(record.provenance.get("wall_seconds") or 0.0)
        runs[record.task] += 1
    print(f"demo run wall time per task (host {', '.join(hosts)})\n")
    rows = [(task, str(runs[task]), f"{seconds[task]:.1f}") for task in sorted(seconds)]
    print(markdown_table(("task", "runs", "wall seconds"), rows, align="lrr"), end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["benchmark", "task", "runs", "wall_seconds", "hosts"])
            for task in sorted(seconds):
                writer.writerow(["demo_wall_time", task, runs[task], f"{seconds[task]:.1f}",
                                 " ".join(hosts)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
