"""Bundles as ONNX: the CNN (64 scaled inputs → logits) for onnxruntime.

The preprocessing (min-max constants, category codes), the feature names,
the classes and the decision travel inside the ONNX file as metadata
(``iotids.bundle`` holds bundle.json without the training history), so the
file alone says how to prepare its input. Scoring in iotids keeps the
preprocessing in Polars and runs only the network in onnxruntime.

``int8``: onnxruntime's dynamic quantization (weights stored as int8,
activations quantized per batch at run time) — a smaller file whose
logits differ slightly from the float model's; benchmarks/quantize.py
measures its speed and accuracy on real samples.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np

from iotids.atomic import atomic_path
from iotids.errors import IotidsError

INPUT, OUTPUT = "inputs", "logits"
OPSET = 17


def onnx_bytes(model) -> bytes:
    """The model as an ONNX graph with a dynamic batch size."""
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of the torch.export one,
        # which needs the extra onnxscript package; this graph needs nothing new.
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (torch.zeros(2, 64),), buffer, dynamo=False, opset_version=OPSET,
                          input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}})
    return buffer.getvalue()


def quantized(graph: bytes) -> bytes:
    """An ONNX graph with onnxruntime's dynamic int8 quantization of its weights."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)  # quantize_dynamic logs advice to the root logger on every call
    try:
        with tempfile.TemporaryDirectory(prefix="iotids-int8-") as folder:
            source, target = Path(folder) / "float.onnx", Path(folder) / "int8.onnx"
            source.write_bytes(graph)
            quantize_dynamic(source, target, weight_type=QuantType.QInt8)
            return target.read_bytes()
    finally:
        logger.setLevel(level)


def export_onnx(bundle_dir: str | Path, path: str | Path, int8: bool = False) -> dict:
    """Write the bundle's model as ONNX (dynamically quantized to int8 if asked)
    with the bundle's metadata; return a summary."""
    import onnx

    from iotids.bundle import bundle_id, load_bundle

    bundle = load_bundle(bundle_dir)
    graph_bytes = onnx_bytes(bundle.model)
    graph = onnx.load_from_string(quantized(graph_bytes) if int8 else graph_bytes)
    meta = {k: v for k, v in bundle.meta.items() if k not in ("training", "tensors")}
    for key, value in {"iotids.bundle": json.dumps(meta), "iotids.bundle_id": bundle_id(bundle_dir),
                       "iotids.input": INPUT, "iotids.output": OUTPUT,
                       "iotids.quantization": "int8-dynamic" if int8 else "none"}.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    out = Path(path)
    with atomic_path(out) as tmp:
        onnx.save(graph, str(tmp))
    return {"path": str(out), "bytes": out.stat().st_size, "bundle_id": bundle_id(bundle_dir), "opset": OPSET,
            "classes": bundle.classes, "int8": int8}


class OnnxModel:
    """A bundle's network in an onnxruntime session; ``logits`` like ``predict_logits``."""

    def __init__(self, model, threads: int | None = None, int8: bool = False) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise IotidsError("onnxruntime is not installed; use --backend torch") from None
        import torch

        options = ort.SessionOptions()
        # As many threads as torch uses (the cores): onnxruntime's own default measured slower here.
        options.intra_op_num_threads = threads or torch.get_num_threads()
        graph = onnx_bytes(model)
        self.session = ort.InferenceSession(quantized(graph) if int8 else graph, options,
                                            providers=["CPUExecutionProvider"])

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.session.run([OUTPUT], {INPUT: np.ascontiguousarray(x, dtype=np.float32)})[0]
