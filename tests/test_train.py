"""Training, resuming, determinism, bundles and evaluation tables (SYNTHETIC data)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.metrics import classification_report, confusion_matrix

from iotids.bundle import load_bundle
from iotids.errors import InputError, IotidsError
from iotids.evaluate import evaluate_bundle, evaluate_predictions
from iotids.train import TrainConfig, train
from tiny_task import Stop, make_task, stop_after


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_task(tmp_path_factory.mktemp("tiny"))


@pytest.mark.parametrize("model", ["cnn1d", "cnn2d", "cnn3d"])
def test_tiny_training_learns(tiny, tmp_path, model):
    # float32 and room to converge: bf16 kernels are not bit-stable across runs, and on this
    # tiny set an unlucky trajectory needed more than six epochs once.
    meta = train(tiny, tmp_path / model, TrainConfig(model=model, epochs=10, batch_size=64, seed=1,
                                                     precision="fp32"))
    assert meta["metrics"]["val"]["macro_f1"] > 0.9
    result = evaluate_bundle(tmp_path / model, tiny)
    assert result["accuracy"] > 0.9 and result["synthetic"] is True


def _weights(folder):
    from safetensors.torch import load_file
    return load_file(str(folder / "model.safetensors"))


def test_deterministic_and_resumable(tiny, tmp_path):
    config = TrainConfig(epochs=4, batch_size=64, seed=3, patience=10)
    train(tiny, tmp_path / "a", config)
    train(tiny, tmp_path / "b", config)
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)

    with pytest.raises(Stop):
        train(tiny, tmp_path / "c", config, on_epoch=stop_after(2))
    assert not (tmp_path / "c" / "model.safetensors").exists()
    meta = train(tiny, tmp_path / "c", config)  # resumes at epoch 3
    assert [h["epoch"] for h in meta["training"]["history"]] == [1, 2, 3, 4]
    c = _weights(tmp_path / "c")
    assert all(torch.equal(a[k], c[k]) for k in a)
    with pytest.raises(IotidsError, match="different configuration"):
        train(tiny, tmp_path / "c", TrainConfig(epochs=5, batch_size=64, seed=3))


def test_bundle_round_trip_and_tampering(tiny, tmp_path):
    folder = tmp_path / "bundle"
    train(tiny, folder, TrainConfig(model="cnn2d", epochs=2, batch_size=64))
    bundle = load_bundle(folder)
    x = torch.rand(32, 64) * 2 - 1
    again = load_bundle(folder)
    with torch.inference_mode():
        assert torch.equal(bundle.model(x), again.model(x))
    meta = json.loads((folder / "bundle.json").read_text())
    assert meta["architecture"]["name"] == "cnn2d" and meta["versions"]["torch"]

    def tampered(edit, name):
        copy = tmp_path / name
        shutil.copytree(folder, copy)
        edit(copy)
        return copy

    def set_json(key, value):
        def edit(copy):
            document = json.loads((copy / "bundle.json").read_text())
            document[key] = value
            (copy / "bundle.json").write_text(json.dumps(document))
        return edit

    arch = dict(meta["architecture"], dense=999999)
    cases = {
        "version": (set_json("format_version", 2), "format version 2"),
        "absurd": (set_json("architecture", arch), "'dense' outside"),
        "shapes": (set_json("architecture", dict(meta["architecture"], classes=5)), "does not match"),
        "missing": (lambda c: (c / "model.safetensors").unlink(), "missing from the bundle"),
        "pickle": (lambda c: (c / "model.safetensors").write_bytes(pickle.dumps({"w": 1})), "not a safetensors"),
        "garbage": (lambda c: (c / "bundle.json").write_text("{"), "not valid JSON"),
    }
    for name, (edit, message) in cases.items():
        with pytest.raises(InputError, match=message):
            load_bundle(tampered(edit, name))
    outside = tmp_path / "elsewhere.safetensors"
    shutil.copy(folder / "model.safetensors", outside)

    def link(copy):
        (copy / "model.safetensors").unlink()
        (copy / "model.safetensors").symlink_to(outside)

    with pytest.raises(InputError, match="outside the bundle"):
        load_bundle(tampered(link, "link"))

    from safetensors.torch import save_file
    state = _weights(folder)
    state["extra.weight"] = torch.zeros(2)

    with pytest.raises(InputError, match="unexpected"):
        load_bundle(tampered(lambda c: save_file(state, str(c / "model.safetensors")), "extra"))
    state = _weights(folder)
    first = next(iter(state))
    state[first] = state[first].double()
    with pytest.raises(InputError, match="dtype"):
        load_bundle(tampered(lambda c: save_file(state, str(c / "model.safetensors")), "dtype"))


def test_tables_match_scikit_learn():
    classes = ["Normal", "A", "B", "C"]
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 0])
    y_pred = np.array([0, 1, 0, 1, 2, 2, 2, 0, 2, 0])  # class C never occurs
    result = evaluate_predictions(y_true, y_pred, classes)
    expected = classification_report(y_true, y_pred, labels=[0, 1, 2], output_dict=True, zero_division=0)
    for i, name in enumerate(classes[:3]):
        for key, theirs in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
            assert result["report"][name][key] == pytest.approx(expected[str(i)][theirs])
    assert result["macro_f1"] == pytest.approx(expected["macro avg"]["f1-score"])
    assert result["weighted_f1"] == pytest.approx(expected["weighted avg"]["f1-score"])
    assert result["accuracy"] == pytest.approx(expected["accuracy"])
    assert np.array_equal(np.array(result["confusion"])[:3, :3], confusion_matrix(y_true, y_pred))
    for name, row in result["per_category"].items():
        assert row["TP"] + row["TN"] + row["FP"] + row["FN"] == len(y_true)
        assert row["TP"] + row["FN"] == result["report"][name]["support"]
    assert "C" not in result["per_category"]


def test_cli_train_and_evaluate(tiny, tmp_path, cli):
    result = cli("train", tiny, "--out", tmp_path / "b", "--model", "cnn3d", "--epochs", "2",
                 "--batch-size", "128")
    assert result.code == 0, result.stderr
    result = cli("evaluate", tmp_path / "b", tiny, "--json")
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["model"] == "cnn3d" and os.path.exists(document["confusion_png"])
    assert set(document["per_category"]["Normal"]) == {"accuracy", "TP", "TN", "FP", "FN"}
    result = cli("baseline", tiny, "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["accuracy"] > 0.9
    result = cli("evaluate", tmp_path / "nothing", tiny)
    assert result.code == 2 and "not a bundle directory" in result.stderr


def test_ddp_two_processes(tiny, tmp_path):
    out = tmp_path / "ddp"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "iotids", "train", str(tiny), "--out", str(out), "--epochs", "3", "--batch-size", "64"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    meta = json.loads((out / "bundle.json").read_text())
    assert meta["training"]["world_size"] == 2
    assert meta["training"]["epochs_run"] == 3
    assert load_bundle(out).classes == ["Normal", "Attack1", "Attack2"]


def test_focal_loss_down_weights_easy_rows():
    from iotids.train import focal_loss

    logits = torch.tensor([[4.0, 0.0], [0.2, 0.0]])
    target = torch.tensor([0, 0])
    ce = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    focal = torch.stack([focal_loss(logits[i:i + 1], target[i:i + 1]) for i in range(2)])
    assert (focal < ce).all()
    assert focal[0] / ce[0] < focal[1] / ce[1]  # the easy row loses more of its weight
    weights = torch.tensor([1.0, 3.0])
    assert focal_loss(logits, target, weights) == pytest.approx(float(focal.mean()))


def test_balanced_sampling_draws_classes_equally():
    from iotids.train import epoch_order

    y = torch.tensor([0] * 900 + [1] * 90 + [2] * 10)
    order = epoch_order(y, "balanced", torch.Generator().manual_seed(0))
    counts = torch.bincount(y[order], minlength=3).double() / len(order)
    assert torch.allclose(counts, torch.full((3,), 1 / 3, dtype=torch.float64), atol=0.05)
    assert sorted(epoch_order(y, "shuffle", torch.Generator().manual_seed(0)).tolist()) == list(range(1000))


def test_focal_balanced_training_learns(tiny, tmp_path):
    meta = train(tiny, tmp_path / "fb", TrainConfig(epochs=6, batch_size=64, loss="focal", sampling="balanced"))
    assert meta["metrics"]["val"]["macro_f1"] > 0.9
    assert meta["training"]["loss"] == "focal" and meta["training"]["sampling"] == "balanced"
    with pytest.raises(IotidsError, match="--loss"):
        train(tiny, tmp_path / "x", TrainConfig(loss="hinge"))


def test_bootstrap_interval_brackets_the_estimate():
    from iotids.evaluate import bootstrap_ci

    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, 2000)
    y_pred = np.where(rng.random(2000) < 0.8, y_true, (y_true + 1) % 3)
    result = evaluate_predictions(y_true, y_pred, ["Normal", "A", "B"])
    low, high = result["ci95"]["accuracy"]
    assert low < result["accuracy"] < high and high - low < 0.06
    low, high = result["ci95"]["macro_f1"]
    assert low < result["macro_f1"] < high
    assert bootstrap_ci(np.array([]), np.array([]), 3) == {}
