"""iotids audit on a task with planted leaks (SYNTHETIC numbers)."""

from __future__ import annotations

import json

import polars as pl

from iotids.audit import audit
from tiny_task import make_task


def _plant(folder):
    train = pl.read_parquet(folder / "train.parquet")
    # f7 becomes a giveaway (the class id, scaled), and test repeats 10 train rows.
    for side in ("train", "val", "test"):
        table = pl.read_parquet(folder / f"{side}.parquet")
        table = table.with_columns((pl.col("label").cast(pl.Float64) - 1.0).alias("f7"))
        if side == "test":
            table = pl.concat([table, train.head(10).with_columns(
                (pl.col("label").cast(pl.Float64) - 1.0).alias("f7"))])
        table = table.with_columns(pl.Series("source", ["botiot", "iot23"] * (table.height // 2)
                                             + ["botiot"] * (table.height % 2)))
        table.write_parquet(folder / f"{side}.parquet")


def test_audit_finds_planted_leaks(tmp_path, cli):
    folder = make_task(tmp_path / "task", rows=400, noise=2.0)  # no feature separates on its own
    _plant(folder)
    result = audit(folder)
    assert result["test_rows_seen_in_train"] >= 10
    assert result["likely_identifiers"][0] == "f7"
    assert result["single_feature_macro_f1"]["f7"] == 1.0
    assert all(score < 0.8 for name, score in result["single_feature_macro_f1"].items() if name != "f7")
    probe = result["source_probe"]
    assert probe["applicable"] and probe["accuracy"] < 0.8  # sources alternate: nothing to learn
    assert sum(result["class_counts"]["test"].values()) == result["rows"]["test"]
    done = cli("audit", folder, "--json")
    assert done.code == 0, done.stderr
    assert json.loads(done.stdout)["likely_identifiers"][0] == "f7"
    done = cli("audit", tmp_path / "nothing")
    assert done.code == 2 and "not a task directory" in done.stderr
