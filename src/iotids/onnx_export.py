"""Bundles as ONNX: the CNN (64 scaled inputs → logits) for onnxruntime.

The preprocessing (min-max constants, category codes), the feature names,
the classes and the decision travel inside the ONNX file as metadata
(``iotids.bundle`` holds bundle.json without the training history), so the
file alone says how to prepare its input. Scoring in iotids keeps the
preprocessing in Polars and runs only the network in onnxruntime.
"""

from __future__ import annotations

import io
import json
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


def export_onnx(bundle_dir: str | Path, path: str | Path) -> dict:
    """Write the bundle's model as ONNX with the bundle's metadata; return a summary."""
    import onnx

    from iotids.bundle import bundle_id, load_bundle

    bundle = load_bundle(bundle_dir)
    graph = onnx.load_from_string(onnx_bytes(bundle.model))
    meta = {k: v for k, v in bundle.meta.items() if k not in ("training", "tensors")}
    for key, value in {"iotids.bundle": json.dumps(meta), "iotids.bundle_id": bundle_id(bundle_dir),
                       "iotids.input": INPUT, "iotids.output": OUTPUT}.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    out = Path(path)
    with atomic_path(out) as tmp:
        onnx.save(graph, str(tmp))
    return {"path": str(out), "bytes": out.stat().st_size, "bundle_id": bundle_id(bundle_dir), "opset": OPSET,
            "classes": bundle.classes}


class OnnxModel:
    """A bundle's network in an onnxruntime session; ``logits`` like ``predict_logits``."""

    def __init__(self, model, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise IotidsError("onnxruntime is not installed; use --backend torch") from None
        import torch

        options = ort.SessionOptions()
        # As many threads as torch uses (the cores): onnxruntime's own default measured slower here.
        options.intra_op_num_threads = threads or torch.get_num_threads()
        self.session = ort.InferenceSession(onnx_bytes(model), options, providers=["CPUExecutionProvider"])

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.session.run([OUTPUT], {INPUT: np.ascontiguousarray(x, dtype=np.float32)})[0]
