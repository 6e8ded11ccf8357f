"""``iotids audit``: is a task's score real, or leaked?

On a task directory's model inputs (the features the models see):

- exact duplicates within each split and test rows whose features also occur
  in train (those rows are memorised, not detected);
- feature rows that carry more than one label (no model can get them all);
- for every feature, how well it alone predicts the class: the test macro-F1
  of a depth-4 decision tree trained on it; features at or above the
  threshold are flagged as likely identifiers of the testbed;
- a source probe: how well the features tell which dataset a row came from
  (near 1.0 means the merged task is partly a dataset-identity task);
- class counts per split.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from iotids.dataset import SPLITS, class_counts
from iotids.errors import InputError

SAMPLE = 50_000  # rows per split the probes see (stratified by class)


def audit(task_dir: str | Path, threshold: float = 0.8, seed: int = 0) -> dict:
    folder = Path(task_dir)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except OSError:
        raise InputError(folder, "not a task directory (no manifest.json; make one with `iotids build`)") from None
    classes, features = manifest["classes"], manifest["features"]
    real = [f for f in features if f not in set(manifest.get("padding", []))]
    tables = {side: pl.read_parquet(folder / f"{side}.parquet") for side in SPLITS}
    hashes = {side: t.select(pl.struct(real).hash(seed=0)).to_series() for side, t in tables.items()}
    duplicates = {side: _within(hashes[side]) for side in SPLITS}
    train_set = set(hashes["train"].unique().to_list())
    across = {side: int(hashes[side].is_in(list(train_set)).sum()) for side in ("val", "test")}
    everything = pl.DataFrame({
        "hash": pl.concat(list(hashes.values())),
        "label": pl.concat([t["label"] for t in tables.values()]),
    })
    conflicts = everything.group_by("hash").agg(pl.col("label").n_unique().alias("n"), pl.len())
    conflicting = int(conflicts.filter(pl.col("n") > 1)["len"].sum() or 0)
    train, test = _sample(tables["train"], seed), _sample(tables["test"], seed)
    single = _single_feature_scores(train, test, real, seed)
    return {
        "task": {k: manifest.get(k) for k in ("task", "binary", "schema", "split", "seed", "synthetic")},
        "directory": str(folder.resolve()),
        "rows": {side: t.height for side, t in tables.items()},
        "duplicates_within": duplicates,
        "test_rows_seen_in_train": across["test"],
        "test_rows_seen_in_train_rate": round(across["test"] / max(tables["test"].height, 1), 6),
        "val_rows_seen_in_train": across["val"],
        "conflicting_label_rows": conflicting,
        "single_feature_macro_f1": single,
        "threshold": threshold,
        "likely_identifiers": [name for name, score in single.items() if score >= threshold],
        "source_probe": _source_probe(train, test, real, seed),
        "class_counts": {side: class_counts(t.lazy(), classes) for side, t in tables.items()},
        "evaluated_on": f"test split (probes trained on train; at most {SAMPLE:,} rows per split)",
    }


def _within(hashes: pl.Series) -> dict:
    rows = hashes.len()
    repeated = rows - hashes.n_unique()
    return {"rows": rows, "duplicate_rows": int(repeated), "rate": round(repeated / rows, 6) if rows else 0.0}


def _sample(table: pl.DataFrame, seed: int) -> pl.DataFrame:
    if table.height <= SAMPLE:
        return table
    per_class = max(SAMPLE // table["label"].n_unique(), 1)
    return (table.with_columns(pl.int_range(pl.len()).shuffle(seed).over("label").alias("_rank"))
            .filter(pl.col("_rank") < per_class).drop("_rank"))


def _single_feature_scores(train: pl.DataFrame, test: pl.DataFrame, features: list[str], seed: int) -> dict:
    from sklearn.metrics import f1_score
    from sklearn.tree import DecisionTreeClassifier

    if train.height == 0 or test.height == 0:
        return {}
    y_train, y_test = train["label"].to_numpy(), test["label"].to_numpy()
    scores = {}
    for name in features:
        tree = DecisionTreeClassifier(max_depth=4, random_state=seed)
        tree.fit(train[name].to_numpy().reshape(-1, 1), y_train)
        predicted = tree.predict(test[name].to_numpy().reshape(-1, 1))
        scores[name] = round(float(f1_score(y_test, predicted, average="macro", zero_division=0)), 4)
    return dict(sorted(scores.items(), key=lambda item: -item[1]))


def _source_probe(train: pl.DataFrame, test: pl.DataFrame, features: list[str], seed: int) -> dict:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score, f1_score

    sources = sorted(set(train["source"]) | set(test["source"]))
    if len(sources) < 2:
        return {"sources": sources, "applicable": False, "why": "one source only"}
    forest = RandomForestClassifier(n_estimators=50, max_depth=12, n_jobs=2, random_state=seed)
    forest.fit(train.select(features).to_numpy(), train["source"].to_numpy())
    predicted = forest.predict(test.select(features).to_numpy())
    truth = test["source"].to_numpy()
    return {"sources": sources, "applicable": True,
            "accuracy": round(float(accuracy_score(truth, predicted)), 4),
            "macro_f1": round(float(f1_score(truth, predicted, average="macro", zero_division=0)), 4),
            "majority_share": round(float(np.max(np.unique(truth, return_counts=True)[1]) / len(truth)), 4)}
