"""`make bench`: speed figures, printed as a table and written to bench/results.json.

For now: free-text routing per message (issue 3). Each figure is the median of
several runs, with the spread, and the machine's core count.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

from bench import routing

RUNS = 5


def main() -> int:
    runs = [routing.run(rounds=3) for _ in range(RUNS)]
    summary: dict[str, dict[str, object]] = {}
    for label in runs[0]:
        figures = {}
        for key in ("p50_ms", "p99_ms", "build_ms"):
            values = [run[label][key] for run in runs]
            figures[key] = {"median": round(statistics.median(values), 3), "min": min(values), "max": max(values)}
        figures["answers"] = runs[0][label]["answers"]
        summary[label] = figures
    result = {"cores": os.cpu_count(), "runs": RUNS, "routing": summary}
    print(f"machine: {os.cpu_count()} cores; {RUNS} runs each; median (min-max)")
    print("free-text routing per message")
    for label, figures in summary.items():
        cells = [f"{k} {v['median']} ({v['min']}-{v['max']})" for k, v in figures.items() if isinstance(v, dict)]
        print(f"  {label:<16} {figures['answers']:>5} answers  " + "  ".join(cells))
    print("  targets: p99 < 2 ms (shipped content), < 5 ms (1,000 answers)")
    out = Path(__file__).resolve().parent / "results.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
