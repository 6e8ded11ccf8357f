"""SYNTHETIC sample files: deterministic, and learnable only from several
features together (no single giveaway column)."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import f1_score
from sklearn.model_selection import cross_val_predict
from sklearn.tree import DecisionTreeClassifier

from iotids import sources
from iotids.labels import to_class
from iotids.synthetic import generate


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_files(tmp_path):
    generate(tmp_path / "a", seed=3, rows=10)
    generate(tmp_path / "b", seed=3, rows=10)
    generate(tmp_path / "c", seed=4, rows=10)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_files_are_named_synthetic(synthetic_dir):
    for path in synthetic_dir.rglob("*"):
        if path.is_file() and path.name != "README.txt":
            assert any(part.startswith("synthetic_") for part in path.relative_to(synthetic_dir).parts)
    assert "SYNTHETIC" in (synthetic_dir / "README.txt").read_text()


@pytest.fixture(scope="module")
def demo_sized(tmp_path_factory):
    """SYNTHETIC files at the demo's default size."""
    out = tmp_path_factory.mktemp("demo_sized")
    generate(out, seed=0)
    return out


@pytest.mark.parametrize(
    "relative",
    ["synthetic_iotid20.csv", "synthetic_botiot_per_attack.csv",
     "synthetic_iot23/CTU-IoT-Synthetic-Capture-1-1/bro/conn.log.labeled"],
)
def test_classes_need_several_features(demo_sized, relative):
    layout = sources.sniff(demo_sized / relative)
    table = sources.scan(layout).collect()
    y = np.array([to_class(layout.source, label) for label in table["label_raw"]])
    # Label-derived columns (BoT-IoT's `attack`) are labels, not features.
    numeric = [c for c, kind in layout.kinds.items()
               if kind in ("float", "int", "port") and c not in layout.label_columns]
    x = np.nan_to_num(table.select(numeric).fill_null(0).to_numpy().astype(float), posinf=1e12)
    together = f1_score(y, cross_val_predict(
        RandomForestClassifier(60, random_state=0), x, y, cv=3), average="macro")
    alone = max(
        f1_score(y, cross_val_predict(DecisionTreeClassifier(max_depth=4, random_state=0),
                                      x[:, [j]], y, cv=3), average="macro")
        for j in range(x.shape[1])
    )
    assert together >= 0.7, together
    assert alone <= together - 0.1, (alone, together)


def test_demo_data_command(tmp_path, cli):
    result = cli("demo-data", tmp_path / "d", "--rows", "5", "--seed", "1")
    assert result.code == 0, result.stderr
    assert "synthetic" in result.stdout
    assert len(list((tmp_path / "d").rglob("synthetic_*.csv"))) == 18
    assert pl.read_csv(tmp_path / "d" / "synthetic_iotid20.csv").height == 45
