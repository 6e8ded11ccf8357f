"""A gradient-boosted tree baseline (LightGBM) on the same task directory and
features, judged with the same tables, so every CNN number has a tree number
beside it. Early stopping on the validation split keeps it to seconds."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from iotids.atomic import atomic_path
from iotids.errors import InputError
from iotids.evaluate import evaluate_split


def run_baseline(task_dir: str | Path, split: str = "test", *, rounds: int = 200, seed: int = 0,
                 out: Path | None = None, only_classes: list[str] | None = None, group_ci: bool = False,
                 test_task: str | Path | None = None) -> dict:
    """Train on train, stop early on val, evaluate on ``split`` (``only_classes``
    and ``group_ci`` as for ``evaluate_bundle``) of this task, or of
    ``test_task`` (which must have the same features and classes).

    The fitted model can be saved as LightGBM's own text format (never a pickle).
    """
    import lightgbm

    from iotids.train import load_task

    data = load_task(task_dir, ("train", "val", split) if split not in ("train", "val") else ("train", "val"))
    classes = data.manifest["classes"]
    train, val, test = data.splits["train"], data.splits["val"], data.splits[split]
    scored_dir = task_dir
    if test_task is not None:
        other = load_task(test_task, (split,))
        for key in ("features", "classes"):
            if other.manifest[key] != data.manifest[key]:
                raise InputError(test_task, f"its {key} differ from {task_dir}'s; build it with --like {task_dir}")
        test, scored_dir = other.splits[split], test_task
    binary = len(classes) == 2
    params = {
        "objective": "binary" if binary else "multiclass",
        "num_class": 1 if binary else len(classes),
        "learning_rate": 0.1, "num_leaves": 31, "min_data_in_leaf": 5,
        "seed": seed, "deterministic": True, "num_threads": 2, "verbose": -1,
    }
    started = time.perf_counter()
    train_set = lightgbm.Dataset(train.x.numpy(), label=train.y.numpy())
    callbacks = [lightgbm.early_stopping(10, verbose=False)] if len(val.y) else []
    valid = [lightgbm.Dataset(val.x.numpy(), label=val.y.numpy(), reference=train_set)] if len(val.y) else []
    booster = lightgbm.train(params, train_set, num_boost_round=rounds, valid_sets=valid, callbacks=callbacks)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    scores = booster.predict(test.x.numpy(), num_iteration=booster.best_iteration or None)
    predict_seconds = time.perf_counter() - started
    predicted = (scores > 0.5).astype(np.int64) if binary else np.asarray(scores).argmax(1)
    result = evaluate_split(test.y.numpy(), predicted, classes, scored_dir, split, only_classes, group_ci)
    result |= {
        "split": split, "model": "lightgbm", "synthetic": bool(data.manifest.get("synthetic")),
        "train_seconds": round(train_seconds, 2), "rounds": booster.current_iteration(),
        "predict_rows_per_s": round(len(test.y) / predict_seconds) if predict_seconds > 0 else None,
    }
    if out is not None:
        with atomic_path(Path(out) / "lightgbm.txt") as tmp:
            tmp.write_text(booster.model_to_string())
    return result
