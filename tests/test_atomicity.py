"""Killed runs (SIGTERM, SIGKILL) leave complete outputs or none, and a rerun completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from tiny_task import make_task


def _start(*args: str | Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "iotids", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"})


def _big_conn_log(synthetic_dir: Path, path: Path, copies: int) -> Path:
    """A labelled conn.log of ``copies`` × the synthetic capture's rows (SYNTHETIC)."""
    lines = next(synthetic_dir.rglob("conn.log.labeled")).read_text().splitlines(keepends=True)
    header = [line for line in lines if line.startswith("#") and not line.startswith("#close")]
    rows = "".join(line for line in lines if not line.startswith("#"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        handle.write("".join(header))
        for _ in range(copies):
            handle.write(rows)
    return path


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_ingest_leaves_complete_tables_and_reruns(synthetic_dir: Path, tmp_path: Path, sig) -> None:
    inputs = [_big_conn_log(synthetic_dir, tmp_path / "in" / f"cap-{k}" / "conn.log.labeled", 4000)
              for k in range(4)]
    out = tmp_path / "flows"
    process = _start("ingest", *inputs, "--out", out)
    time.sleep(2.0)
    process.send_signal(sig)
    process.communicate(timeout=60)
    assert process.returncode != 0, "the ingest finished before the kill; make the inputs larger"
    visible = sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) if out.exists() else []
    for name in visible:
        assert name.endswith(".parquet"), name  # no ingest.json of an unfinished run, no partial file
        pl.read_parquet(out / name, columns=["row_id"])  # every table there is complete and readable
    if sig == signal.SIGTERM:  # the clean-up ran
        assert not list(out.glob(".*.part"))
    rerun = _start("ingest", *inputs, "--out", out)
    _, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    assert not list(out.glob(".*.part"))
    manifest = json.loads((out / "ingest.json").read_text())
    assert len(manifest["files"]) == 4


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_training_resumes_from_its_checkpoint(tmp_path: Path, sig) -> None:
    task = make_task(tmp_path / "task", rows=3000, classes=3)
    out = tmp_path / "bundle"
    args = ("train", task, "--out", out, "--epochs", "6", "--patience", "100", "--batch-size", "64",
            "--precision", "fp32")
    process = _start(*args)
    checkpoint = out / "checkpoint" / "state.safetensors"
    deadline = time.monotonic() + 120
    while not checkpoint.exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1]
        time.sleep(0.05)
    process.send_signal(sig)
    process.communicate(timeout=60)
    assert process.returncode != 0, "training finished before the kill"
    assert not (out / "bundle.json").exists() and not (out / "model.safetensors").exists()
    rerun = _start(*args)
    _, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    meta = json.loads((out / "bundle.json").read_text())
    assert [h["epoch"] for h in meta["training"]["history"]] == list(range(1, 7))
    assert not list(out.glob(".*.part")) and not list((out / "checkpoint").glob(".*.part"))
