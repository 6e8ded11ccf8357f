"""int8 dynamic quantization (onnxruntime): what it does to accuracy, per model.

Input: the real samples in ../shared/data (IoT-23 conn.logs and the BoT-IoT
CSV), or SYNTHETIC files when those are absent. They are ingested and built
as the IoT-DS-2 task (seed schema, the study's random split); each model is
trained for a few epochs, then its test split is scored in torch (float32),
onnxruntime (float32) and onnxruntime with int8 weights. Speed per runtime
is benchmarks/score.py's job; this one measures the accuracy change:

  quantize.<model>.accuracy.{torch,onnx,onnx_int8}   test accuracy per runtime
  quantize.<model>.macro_f1.{torch,onnx,onnx_int8}   test macro-F1 per runtime
  quantize.<model>.int8_agreement                   share of test rows int8 classifies as float32 does
  quantize.<model>.int8_max_logit_diff              largest |logit difference| int8 vs float32
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from report import report

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "quantize"
SHARED = HERE.parents[1] / "shared" / "data"


def task_dir() -> tuple[Path, str]:
    from iotids.build import BuildOptions, build
    from iotids.ingest import ingest
    from iotids.synthetic import generate

    inputs = [SHARED / "iot23", SHARED / "botiot"]
    kind = "real samples (../shared/data: IoT-23 34-1, 42-1, 5-1 conn.logs; BoT-IoT Data_exfiltration)"
    if not all(p.is_dir() for p in inputs):
        generate(WORK / "synthetic", seed=0, rows=300)
        inputs, kind = [WORK / "synthetic"], "SYNTHETIC (iotids.synthetic)"
    ingest(inputs, WORK / "flows")
    build(WORK / "flows", WORK / "task", BuildOptions())
    return WORK / "task", kind


def main() -> None:
    from iotids.bundle import load_bundle
    from iotids.evaluate import macro_f1
    from iotids.models import SHAPES
    from iotids.onnx_export import OnnxModel
    from iotids.stream import ModelInputs
    from iotids.train import TrainConfig, predict_logits, train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one model (CNN1D), one epoch")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    if WORK.exists():
        shutil.rmtree(WORK)
    task, kind = task_dir()
    features = json.loads((task / "manifest.json").read_text())["features"]
    x, y = ModelInputs(task / "test.parquet", features).tensors()
    truth = y.numpy()
    results: dict[str, object] = {"quantize.input": kind, "quantize.test_rows": len(truth),
                                  "quantize.split": "test (random split, the study's)"}
    for name in SHAPES if not args.quick else ("cnn1d",):
        meta = train(task, WORK / name, TrainConfig(model=name, epochs=1 if args.quick else args.epochs,
                                                    batch_size=256, seed=0))
        model = load_bundle(WORK / name).model.eval()
        logits = {"torch": predict_logits(model, x).numpy(),
                  "onnx": OnnxModel(model).logits(x.numpy()),
                  "onnx_int8": OnnxModel(model, int8=True).logits(x.numpy())}
        classes = len(meta["classes"])
        for runtime, values in logits.items():
            predicted = values.argmax(1)
            results[f"quantize.{name}.accuracy.{runtime}"] = round(float((predicted == truth).mean()), 4)
            results[f"quantize.{name}.macro_f1.{runtime}"] = round(macro_f1(truth, predicted, classes), 4)
        results[f"quantize.{name}.int8_agreement"] = round(
            float((logits["onnx_int8"].argmax(1) == logits["onnx"].argmax(1)).mean()), 4)
        results[f"quantize.{name}.int8_max_logit_diff"] = round(
            float(np.abs(logits["onnx_int8"] - logits["onnx"]).max()), 4)
    report(results)


if __name__ == "__main__":
    main()
