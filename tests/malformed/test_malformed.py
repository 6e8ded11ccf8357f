"""The malformed-input corpus (malformed_cases.py) through `iotids ingest` and
`iotids detect`: exit code 2, one error line naming the file (and line),
no traceback, no output left behind, bounded time and memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from malformed_cases import CASES, DETECT_CASES, SUCCESS, bad_number

SECONDS = 60  # per case, generous for a loaded 2-core machine
# Peak RSS per command: ingest needs no model; detect loads torch and onnxruntime.
MAX_RSS_MB = {"ingest": 600, "detect": 1500}


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float


# Runs the CLI and, at exit, writes the process's own peak RSS (VmHWM). Not
# getrusage/wait4: a child inherits the pytest process's high-water mark.
WRAPPER = """
import atexit, runpy, sys
target = sys.argv[1]
def peak():
    with open(target, "w") as out:
        out.write([l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")][0])
atexit.register(peak)
sys.argv = ["iotids", *sys.argv[2:]]
runpy.run_module("iotids", run_name="__main__", alter_sys=True)
"""


def run_bounded(*args: str | Path, folder: Path) -> Run:
    """The CLI in a child process, with its wall time and its own peak RSS."""
    out, err, peak = folder / "stdout.txt", folder / "stderr.txt", folder / "peak_kb.txt"
    started = time.monotonic()
    with out.open("w") as stdout, err.open("w") as stderr:
        child = subprocess.Popen([sys.executable, "-c", WRAPPER, str(peak), *map(str, args)], stdout=stdout,
                                 stderr=stderr, env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})
        try:
            child.wait(timeout=SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            pytest.fail(f"{args[0]} ran longer than {SECONDS} s")
    return Run(child.returncode, out.read_text(), err.read_text(), time.monotonic() - started,
               int(peak.read_text()) / 1024)


def _check_failure(run: Run, command: str, bad: Path, expected: str, line) -> None:
    assert run.code == 2, run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("iotids: error: ") and str(bad) in lines[0]
    assert expected in lines[0], lines[0]
    if line == "last":
        line = len(bad.read_text().splitlines())
    if line is not None:
        assert f"{bad}:{line}:" in lines[0]
    assert run.max_rss_mb < MAX_RSS_MB[command], f"{run.max_rss_mb:.0f} MB"


def test_corpus_size():
    assert len(CASES) + len(SUCCESS) + len(DETECT_CASES) >= 40


@pytest.mark.parametrize("case", sorted(CASES))
def test_ingest_refuses_cleanly(case, synthetic_dir, tmp_path):
    build, expected, line = CASES[case]
    bad = build(synthetic_dir, tmp_path / "in")
    out = tmp_path / "out"
    _check_failure(run_bounded("ingest", bad, "--out", out, folder=tmp_path), "ingest", bad, expected, line)
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


@pytest.mark.parametrize("case", sorted(SUCCESS))
def test_valid_after_all(case, synthetic_dir, tmp_path):
    good = SUCCESS[case](synthetic_dir, tmp_path / "in")
    run = run_bounded("ingest", good, "--out", tmp_path / "out", "--json", folder=tmp_path)
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert len(list((tmp_path / "out").glob("*.parquet"))) == 1


@pytest.mark.parametrize("case", sorted(DETECT_CASES))
def test_detect_refuses_cleanly(case, synthetic_dir, common_bundle, tmp_path):
    build, expected, line = DETECT_CASES[case]
    bad = build(synthetic_dir, tmp_path / "in")
    alerts = tmp_path / "alerts.jsonl"
    run = run_bounded("detect", common_bundle, bad, "--out", alerts, folder=tmp_path)
    _check_failure(run, "detect", bad, expected, line)
    assert not alerts.exists() and not list(tmp_path.glob(".alerts*"))


def test_one_bad_file_leaves_no_output_from_the_good_ones(synthetic_dir, tmp_path, cli):
    bad = bad_number(synthetic_dir, tmp_path / "in")
    out = tmp_path / "out"
    result = cli("ingest", synthetic_dir / "synthetic_botiot_per_attack.csv", bad, "--out", out)
    assert result.code == 2
    assert not list(out.glob("*.part"))
    assert not list(out.glob(".*.part"))
