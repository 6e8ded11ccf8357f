"""The study's evaluation tables, computed from true and predicted class ids.

- accuracy; weighted precision, recall and F1;
- the per-class classification report (precision, recall, F1, support) with
  macro and weighted averages;
- the per-category table: accuracy and the TP, TN, FP, FN counts of each
  class against the rest (the study prints these counts under the headings
  TPR/TNR/FPR/FNR; they are counts, and are labelled so here);
- the confusion matrix (rows: true class, columns: predicted), also as PNG;
- 95% bootstrap intervals of accuracy and macro F1 over the test rows.

Classes with no support and no predictions are left out of the averages,
as scikit-learn does with ``labels=`` the classes present.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from iotids.atomic import atomic_path


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    """Counts: rows are true classes, columns predicted ones."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * n + y_pred, minlength=n * n).reshape(n, n)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> float:
    """Macro F1 over the classes that occur in y_true or y_pred."""
    return _macro_f1_of(confusion_matrix(y_true, y_pred, n))


def _macro_f1_of(confusion: np.ndarray) -> float:
    tp = np.diag(confusion).astype(float)
    both = confusion.sum(1) + confusion.sum(0)
    present = both > 0
    return float((2 * tp[present] / both[present]).mean()) if present.any() else 0.0


def bootstrap_ci(y_true: np.ndarray, y_pred: np.ndarray, n: int, rounds: int = 200, seed: int = 0) -> dict:
    """95% intervals of accuracy and macro F1, resampling the test rows with replacement.

    Resampling rows only redraws how many rows fall in each (true, predicted)
    cell, so each round draws the confusion matrix from a multinomial over its
    cells: the same distribution as picking rows, at a cost independent of the
    number of rows."""
    confusion = confusion_matrix(y_true, y_pred, n)
    total = int(confusion.sum())
    if total == 0:
        return {}
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(total, confusion.ravel() / total, size=rounds).reshape(rounds, n, n)
    accuracy = [float(np.trace(d) / total) for d in draws]
    macro = [_macro_f1_of(d) for d in draws]
    return {"rounds": rounds, **_interval(accuracy, macro)}


def _interval(accuracy: list[float], macro: list[float]) -> dict:
    return {"accuracy": [round(float(np.percentile(accuracy, 2.5)), 6), round(float(np.percentile(accuracy, 97.5)), 6)],
            "macro_f1": [round(float(np.percentile(macro, 2.5)), 6), round(float(np.percentile(macro, 97.5)), 6)]}


def bootstrap_ci_groups(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray, n: int, rounds: int = 200,
                        seed: int = 0) -> dict:
    """95% intervals resampling whole groups (captures) with replacement: rows of
    one capture are not independent, so this is the honest interval for a
    grouped split. Wide when there are few groups — as it should be."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    names, members = np.unique(np.asarray(groups), return_inverse=True)
    if len(names) < 2:
        return {"groups": int(len(names))}
    rows = [np.flatnonzero(members == g) for g in range(len(names))]
    rng = np.random.default_rng(seed)
    accuracy, macro = [], []
    for _ in range(rounds):
        pick = np.concatenate([rows[g] for g in rng.integers(0, len(names), len(names))])
        accuracy.append(float((y_true[pick] == y_pred[pick]).mean()))
        macro.append(macro_f1(y_true[pick], y_pred[pick], n))
    return {"rounds": rounds, "groups": int(len(names)), **_interval(accuracy, macro)}


def evaluate_predictions(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict:
    """Every table as plain JSON-ready values, with bootstrap 95% intervals."""
    n = len(classes)
    confusion = confusion_matrix(y_true, y_pred, n)
    total = int(confusion.sum())
    tp = np.diag(confusion)
    support = confusion.sum(1)
    predicted = confusion.sum(0)
    precision = np.divide(tp, predicted, out=np.zeros(n), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(n), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(n), where=(precision + recall) > 0)
    present = (support + predicted) > 0
    weights = support / max(total, 1)
    report = {
        classes[i]: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                     "support": int(support[i])}
        for i in range(n) if present[i]
    }
    macro = {"precision": float(precision[present].mean()) if present.any() else 0.0,
             "recall": float(recall[present].mean()) if present.any() else 0.0,
             "f1": float(f1[present].mean()) if present.any() else 0.0, "support": total}
    weighted = {"precision": float((precision * weights).sum()), "recall": float((recall * weights).sum()),
                "f1": float((f1 * weights).sum()), "support": total}
    per_category = {}
    for i in range(n):
        if not present[i]:
            continue
        fp = int(predicted[i] - tp[i])
        fn = int(support[i] - tp[i])
        tn = total - int(tp[i]) - fp - fn
        per_category[classes[i]] = {"accuracy": (int(tp[i]) + tn) / total if total else 0.0,
                                    "TP": int(tp[i]), "TN": tn, "FP": fp, "FN": fn}
    return {
        "rows": total,
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "weighted_precision": weighted["precision"],
        "weighted_recall": weighted["recall"],
        "weighted_f1": weighted["f1"],
        "macro_f1": macro["f1"],
        "report": report,
        "macro_avg": macro,
        "weighted_avg": weighted,
        "per_category": per_category,
        "classes": classes,
        "confusion": confusion.tolist(),
        "ci95": bootstrap_ci(y_true, y_pred, n),
    }


def confusion_png(result: dict, path: Path, title: str) -> Path:
    """Draw the confusion matrix (row-normalised colours, counts written in)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = result["classes"]
    matrix = np.array(result["confusion"])
    keep = [i for i in range(len(classes)) if matrix[i].sum() or matrix[:, i].sum()]
    matrix = matrix[np.ix_(keep, keep)]
    names = [classes[i] for i in keep]
    shares = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    size = max(4.0, 0.55 * len(names) + 2)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(len(names)), names, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title, fontsize=9)
    for r in range(len(names)):
        for c in range(len(names)):
            if matrix[r, c]:
                axes.text(c, r, f"{matrix[r, c]}", ha="center", va="center", fontsize=6,
                          color="white" if shares[r, c] > 0.5 else "black")
    figure.colorbar(image, ax=axes, fraction=0.046, label="share of the true class")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=120, format="png")
    plt.close(figure)
    return path


def evaluate_split(y_true: np.ndarray, predicted: np.ndarray, classes: list[str], task_dir: str | Path,
                   split: str, only_classes: list[str] | None = None, group_ci: bool = False) -> dict:
    """``evaluate_predictions`` for a task split, optionally on the rows of some
    true classes only, optionally with intervals over captures (see evaluate_bundle)."""
    keep = np.ones(len(y_true), dtype=bool)
    if only_classes is not None:
        keep = np.isin(y_true, [classes.index(c) for c in only_classes])
    result = evaluate_predictions(y_true[keep], predicted[keep], classes)
    if only_classes is not None:
        result["only_classes"] = list(only_classes)
        result["rows_left_out"] = int((~keep).sum())
    if group_ci:
        import polars as pl

        groups = pl.read_parquet(Path(task_dir) / f"{split}.parquet", columns=["capture"])["capture"].to_numpy()
        result["ci95_groups"] = bootstrap_ci_groups(y_true[keep], predicted[keep], groups[keep], len(classes))
    return result


def evaluate_bundle(bundle_dir: str | Path, task_dir: str | Path, split: str = "test",
                    only_classes: list[str] | None = None, group_ci: bool = False) -> dict:
    """Score a task split with a bundle; the task must have the bundle's features and classes.

    ``only_classes``: score only the rows of these true classes (a held-out
    dataset's classes that training also had). ``group_ci``: add 95% intervals
    that resample captures (``ci95_groups``) besides the row bootstrap."""
    from iotids.bundle import load_bundle
    from iotids.decision import classify
    from iotids.errors import InputError
    from iotids.stream import ModelInputs
    from iotids.train import load_task, scored_batches

    bundle = load_bundle(bundle_dir)
    data = load_task(task_dir, splits=())
    if data.manifest["features"] != bundle.features:
        raise InputError(task_dir, "its features differ from the bundle's; build the task with the "
                                   "bundle's preprocessor and features")
    if data.manifest["classes"] != bundle.classes:
        raise InputError(task_dir, f"its classes {data.manifest['classes']} differ from the bundle's "
                                   f"{bundle.classes}")
    decision = bundle.meta.get("decision")
    truth, predicted = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for logits, y in scored_batches(bundle.model, ModelInputs(Path(task_dir) / f"{split}.parquet", bundle.features)):
        truth.append(y)
        predicted.append(classify(logits, decision))
    result = evaluate_split(np.concatenate(truth), np.concatenate(predicted), bundle.classes, task_dir, split,
                            only_classes, group_ci)
    result["split"] = split
    result["synthetic"] = bool(data.manifest.get("synthetic"))
    result["model"] = bundle.meta["architecture"]["name"]
    result["tuned_thresholds"] = bool(decision)
    return result
