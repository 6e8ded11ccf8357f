"""Growth curves: ingest, build and detect at 1×, 4× and 16× the input rows.

Input: the real IoT-23 capture 34-1 conn.log.labeled (../shared/data), or a
SYNTHETIC capture when that is absent, replicated with shifted timestamps and
uids (benchmarks/ingest.py's ``replicate``). 1× is about 1.25 million rows
(16×: ~20 million), rounded to whole copies of the source (``--quick``: 2,500
rows, part of one copy; ``--rows N`` to choose). Every stage runs in a fresh
subprocess so its peak RSS (VmHWM) is its own.
detect scores the replicated conn.log with a common-schema CNN1D trained for
one epoch on the 1× task.

Merged into benchmarks/results.json:
  growth.<stage>.seconds.<k>x, growth.<stage>.rss_mb.<k>x   per stage and size
  <stage>.time_growth_16x   seconds at 16× ÷ seconds at 1×  (goal: ≤ 17, linear)
  <stage>.rss_growth_16x    peak RSS at 16× ÷ at 1×          (goal: ≤ 1.5, flat)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from ingest import replicate, source_file
from report import PEAK_RSS_MB, report

WORK = Path(__file__).resolve().parent / "work" / "growth"
SIZES = (1, 4, 16)

CHILD = r"""
import json, sys, time
stage, source, out, extra = sys.argv[1:5]
start = time.perf_counter()
if stage == "ingest":
    from iotids.ingest import ingest
    rows = ingest([source], out).files[0].rows
elif stage == "build":
    from iotids.build import BuildOptions, build
    rows = sum(build(source, out, BuildOptions(schema="common")).get("rows").values())
else:
    from iotids.detect import DetectOptions, Scorer, detect_file
    rows = detect_file(Scorer(extra), source, DetectOptions(), lambda alert: None).flows
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - start,
                  "peak_rss_mb": PEAK_RSS_MB}))
""".replace("PEAK_RSS_MB", PEAK_RSS_MB)


def measured(stage: str, source: Path, out: Path, extra: str = "") -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, stage, str(source), str(out), extra],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{stage} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def train_bundle(task: Path) -> Path:
    from iotids.train import TrainConfig, train

    bundle = WORK / "bundle"
    train(task, bundle, TrainConfig(model="cnn1d", epochs=1, batch_size=1024))
    return bundle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1x = 2,500 rows")
    parser.add_argument("--stages", default="ingest,build,detect",
                        help="which stages to measure (the others' figures stay as they are in results.json)")
    parser.add_argument("--rows", type=int, help="rows at 1x [default: 1,250,000, so 16x is about 20 million]")
    args = parser.parse_args()
    stages = [s for s in ("ingest", "build", "detect") if s in args.stages.split(",")]
    base = args.rows or (2_500 if args.quick else 1_250_000)
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    source = source_file(WORK)
    # Whole copies of the source, so that 4x and 16x are exact multiples of 1x.
    per_copy = sum(1 for line in source.open() if not line.startswith("#"))
    if base >= per_copy:
        base = round(base / per_copy) * per_copy
    kind = "SYNTHETIC" if "synthetic" in str(source) else "real"
    results: dict[str, object] = {"growth.input": f"{source.name} ({kind}) replicated, 1x = {base:,} rows"}
    bundle = None
    for k in SIZES:
        log = WORK / f"conn-{k}x.log"
        replicate(source, log, base * k)
        flows = WORK / f"flows-{k}x"
        task = WORK / f"task-{k}x"
        for stage, (input_path, out) in (("ingest", (log, flows)), ("build", (flows, task))):
            if stage == "ingest" or {"build", "detect"} & set(stages):  # each needs the one before
                figures = measured(stage, input_path, out)
            if stage not in stages:
                continue
            results[f"growth.{stage}.seconds.{k}x"] = round(figures["seconds"], 2)
            results[f"growth.{stage}.rss_mb.{k}x"] = round(figures["peak_rss_mb"])
        if "detect" in stages:
            if bundle is None:
                bundle = train_bundle(task)
            figures = measured("detect", log, WORK / "unused", str(bundle))
            results[f"growth.detect.seconds.{k}x"] = round(figures["seconds"], 2)
            results[f"growth.detect.rss_mb.{k}x"] = round(figures["peak_rss_mb"])
            results[f"growth.rows.{k}x"] = figures["rows"]
        shutil.rmtree(flows)
        if k != SIZES[0]:
            shutil.rmtree(task, ignore_errors=True)
        log.unlink()
    for stage in stages:
        time_growth = results[f"growth.{stage}.seconds.16x"] / results[f"growth.{stage}.seconds.1x"]
        rss_growth = results[f"growth.{stage}.rss_mb.16x"] / results[f"growth.{stage}.rss_mb.1x"]
        results[f"{stage}.time_growth_16x"] = round(time_growth, 2)
        results[f"{stage}.rss_growth_16x"] = round(rss_growth, 2)
        results[f"{stage}.goals_met"] = f"time {'yes' if time_growth <= 17 else 'NO'}, " \
                                        f"memory {'yes' if rss_growth <= 1.5 else 'NO'}"
    report(results)


if __name__ == "__main__":
    main()
