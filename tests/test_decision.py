"""Calibration and per-class thresholds chosen on validation."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from iotids.bundle import load_bundle
from iotids.decision import classify, fit_decision, fit_offsets, fit_temperature
from iotids.errors import InputError
from iotids.evaluate import evaluate_bundle, macro_f1
from iotids.train import TrainConfig, train
from tiny_task import make_task


def test_offsets_rescue_an_under_predicted_class():
    rng = np.random.default_rng(0)
    y = np.array([0] * 900 + [1] * 100)
    # class 1 rows score a little higher for class 1 than others do, but never win the argmax
    logits = np.column_stack([np.full(1000, 2.0), np.where(y == 1, 1.5, 0.5) + rng.normal(0, 0.1, 1000)])
    assert macro_f1(y, logits.argmax(1), 2) < 0.5
    offsets, before, after = fit_offsets(logits, y)
    assert after > 0.95 > before and offsets[1] - offsets[0] > 0.5
    decision = fit_decision(logits, y)
    assert macro_f1(y, classify(logits, decision), 2) == pytest.approx(decision["val_macro_f1_after"])
    assert (classify(logits, None) == logits.argmax(1)).all()


def test_temperature_softens_overconfident_logits():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 2000)
    right = rng.random(2000) < 0.7  # 70% right, but always extremely confident
    predicted = np.where(right, y, (y + 1) % 3)
    logits = np.eye(3)[predicted] * 20.0
    assert fit_temperature(logits, y) > 4.0


def test_training_with_tuned_thresholds(tmp_path):
    task = make_task(tmp_path / "task", rows=300)
    meta = train(task, tmp_path / "b", TrainConfig(epochs=3, batch_size=64, tune_thresholds=True))
    decision = meta["decision"]
    assert decision["val_macro_f1_after"] >= decision["val_macro_f1_before"]
    assert evaluate_bundle(tmp_path / "b", task)["tuned_thresholds"] is True
    copy = tmp_path / "bad"
    shutil.copytree(tmp_path / "b", copy)
    document = json.loads((copy / "bundle.json").read_text())
    document["decision"]["offsets"] = [0.0]
    (copy / "bundle.json").write_text(json.dumps(document))
    with pytest.raises(InputError, match="one finite offset per class"):
        load_bundle(copy)
