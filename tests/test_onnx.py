"""ONNX export: metadata, and torch vs onnxruntime parity on real and synthetic rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import polars as pl
import pytest
import torch

from iotids.bundle import bundle_id, load_bundle
from iotids.onnx_export import INPUT, OUTPUT


def _task_rows(bundle_dir: Path) -> np.ndarray:
    """The bundle's own task's test rows (its model inputs)."""
    meta = json.loads((bundle_dir / "bundle.json").read_text())
    task = Path(meta["task"]["directory"])
    return pl.read_parquet(task / "test.parquet", columns=meta["features"]).to_numpy().astype(np.float32)


def _parity(cli, bundle_dir: Path, tmp_path: Path) -> float:
    path = tmp_path / "model.onnx"
    result = cli("export", bundle_dir, "--onnx", path)
    assert result.code == 0, result.stderr
    graph = onnx.load(str(path))
    onnx.checker.check_model(graph)
    props = {p.key: p.value for p in graph.metadata_props}
    assert props["iotids.bundle_id"] == bundle_id(bundle_dir)
    embedded = json.loads(props["iotids.bundle"])
    bundle = load_bundle(bundle_dir)
    assert embedded["classes"] == bundle.classes and embedded["preprocessor"] == bundle.meta["preprocessor"]
    x = _task_rows(bundle_dir)
    with torch.inference_mode():
        expected = bundle.model(torch.from_numpy(x)).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT], {INPUT: x})[0]
    assert got.shape == expected.shape == (len(x), len(bundle.classes))
    return float(np.abs(got - expected).max())


def test_onnx_parity_on_synthetic_rows(cli, common_bundle: Path, tmp_path: Path) -> None:
    assert _parity(cli, common_bundle, tmp_path) < 1e-4


def test_onnx_parity_on_real_iot23_rows(cli, real_common_bundle: Path, tmp_path: Path) -> None:
    assert _parity(cli, real_common_bundle, tmp_path) < 1e-4


@pytest.mark.parametrize("name", ["cnn2d", "cnn3d"])
def test_every_architecture_exports(name: str, tmp_path: Path) -> None:
    from iotids.models import CNN, CNNParams
    from iotids.onnx_export import onnx_bytes

    model = CNN(CNNParams(name=name, classes=4)).eval()
    x = torch.rand(33, 64) * 2 - 1
    session = ort.InferenceSession(onnx_bytes(model), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        assert np.abs(session.run([OUTPUT], {INPUT: x.numpy()})[0] - model(x).numpy()).max() < 1e-4


def test_int8_export_is_smaller_and_agrees_on_real_rows(cli, real_common_bundle: Path, tmp_path: Path) -> None:
    float_path, int8_path = tmp_path / "float.onnx", tmp_path / "int8.onnx"
    assert cli("export", real_common_bundle, "--onnx", float_path).code == 0
    result = cli("export", real_common_bundle, "--onnx", int8_path, "--int8")
    assert result.code == 0 and "int8" in result.stdout, result.stderr
    graph = onnx.load(str(int8_path))
    assert {p.key: p.value for p in graph.metadata_props}["iotids.quantization"] == "int8-dynamic"
    assert any(node.op_type in ("MatMulInteger", "ConvInteger", "DynamicQuantizeLinear") for node in graph.graph.node)
    assert int8_path.stat().st_size < float_path.stat().st_size / 2
    x = _task_rows(real_common_bundle)
    exact = ort.InferenceSession(str(float_path), providers=["CPUExecutionProvider"]).run([OUTPUT], {INPUT: x})[0]
    rough = ort.InferenceSession(str(int8_path), providers=["CPUExecutionProvider"]).run([OUTPUT], {INPUT: x})[0]
    assert not np.array_equal(exact, rough)  # it did quantize
    assert (exact.argmax(1) == rough.argmax(1)).mean() > 0.97  # and classifies almost every row the same


def test_auto_backend_times_both_runtimes(common_bundle: Path) -> None:
    from iotids.detect import Scorer

    scorer = Scorer(common_bundle)
    assert set(scorer.speeds) == {"torch", "onnx"} and min(scorer.speeds.values()) > 0
    faster = max(scorer.speeds, key=scorer.speeds.get)
    assert scorer.backend == faster
    assert Scorer(common_bundle, "onnx-int8").backend == "onnx-int8"
    assert Scorer(common_bundle, "torch").speeds == {}
