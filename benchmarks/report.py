"""Shared by the benchmarks: timing, and printing figures as a table merged into results.json."""

from __future__ import annotations

import json
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.json"


def report(results: dict[str, object]) -> None:
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value!s:>38}")
    merged = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    merged.update(results)
    merged["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    RESULTS.write_text(json.dumps(merged, indent=2) + "\n")


def timed(run, repeats: int) -> float:
    """Best wall time of ``repeats`` runs after one warm-up run (the machine is shared and noisy)."""
    run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


# Peak RSS of the process it runs in, for the benchmarks' child processes. Not
# getrusage's ru_maxrss: a child started from a large parent inherits the
# parent's high-water mark through fork and exec; VmHWM belongs to the new image.
PEAK_RSS_MB = ("[int(l.split()[1]) / 1024 for l in open('/proc/self/status') if l.startswith('VmHWM')][0]")
