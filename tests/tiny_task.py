"""A tiny task directory with separable classes, written without the build
stage, for model, training and bundle tests (SYNTHETIC numbers)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from iotids.features import Preprocessor

FEATURES = [f"f{i}" for i in range(64)]


def make_task(folder: Path, rows: int = 600, classes: int = 3, seed: int = 0, noise: float = 0.15) -> Path:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-0.6, 0.6, size=(classes, 64))
    names = ["Normal", *[f"Attack{i}" for i in range(1, classes)]]
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for side, n in (("train", rows), ("val", rows // 4), ("test", rows // 4)):
        y = rng.integers(0, classes, n)
        x = np.clip(centres[y] + rng.normal(0, noise, size=(n, 64)), -1, 1)
        table = pl.DataFrame({"source": ["synthetic"] * n, "capture": ["tiny"] * n, "label": y.astype(np.int32)})
        table = table.hstack(pl.DataFrame(x, schema=FEATURES))
        table.write_parquet(folder / f"{side}.parquet")
        counts[side] = {names[c]: int((y == c).sum()) for c in range(classes)}
    pre = Preprocessor(drop=()).fit(pl.read_parquet(folder / "train.parquet").lazy())
    pre.save(folder / "preprocessor.json")
    manifest = {"format_version": 1, "task": "tiny", "binary": classes == 2, "schema": "seed",
                "split": "random", "seed": seed, "classes": names, "features": FEATURES, "padding": [],
                "class_counts": counts, "synthetic": True, "warnings": []}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


class Stop(Exception):
    """Raised by ``stop_after``: a run interrupted on purpose."""


def stop_after(epoch: int):
    """An ``on_epoch`` callback that interrupts training once ``epoch`` is done (and checkpointed)."""
    def interrupt(report) -> None:
        if report.epoch == epoch:
            raise Stop
    return interrupt
