"""Scoring speed: torch vs onnxruntime, `iotids detect` end to end, and the HTTP service.

All inputs are SYNTHETIC (iotids' own generator); a common-schema CNN1D is
trained for one epoch on them first (scoring speed does not depend on how
well a model learnt). Measured in one run on this machine:

  score.torch_flows_per_s.b{1,64,8192}   CNN1D, the network alone, torch (inference mode)
  score.onnx_flows_per_s.b{1,64,8192}    the same in onnxruntime
  score.onnx_vs_torch.b{1,64,8192}       ratio of the two
  score.flows_per_s.<model>.{torch,onnx,onnx_int8}  every architecture at batch 8192 (untrained
                                         weights: speed does not depend on them); onnx_int8 is
                                         onnxruntime's dynamic int8 quantization
  score.faster_runtime.<model>           the one `--backend auto` should pick here
  score.gflops.<model>                   model FLOPs/s achieved by the faster runtime
  score.machine_share.<model>            that ÷ machine.matmul_gflops (2048² float32 matmul, same run)
  score.detect_flows_per_s.{torch,onnx}  `iotids detect` on a synthetic conn.log (reading, features, model, alerts;
                                         its memory at 1x/4x/16x rows is benchmarks/growth.py's)
  service.p50_ms, service.p99_ms         POST /v1/score with 1,000 flows, one keep-alive connection on loopback
  service.vs_in_process                  p50 ÷ the same scoring called in-process (the HTTP + JSON overhead)
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from report import report, timed
from train import matmul_gflops

WORK = Path(__file__).resolve().parent / "work" / "score"


def make_bundle(rows: int) -> Path:
    from iotids.build import BuildOptions, build
    from iotids.ingest import ingest
    from iotids.synthetic import generate
    from iotids.train import TrainConfig, train

    if WORK.exists():
        shutil.rmtree(WORK)
    generate(WORK / "data", seed=1, rows=rows)
    ingest([WORK / "data"], WORK / "flows", workers=1)
    build(WORK / "flows", WORK / "task", BuildOptions(schema="common"))
    train(WORK / "task", WORK / "bundle", TrainConfig(model="cnn1d", epochs=1, batch_size=256))
    return WORK / "bundle"


def network_speed(bundle: Path, quick: bool) -> dict:
    from iotids.bundle import load_bundle
    from iotids.onnx_export import OnnxModel

    model = load_bundle(bundle).model.eval()
    session = OnnxModel(model)
    results = {}
    for batch in (1, 64, 8192):
        total = (256 if quick else 2048) if batch == 1 else (4_096 if quick else 65_536)
        x = (torch.rand(total, 64) * 2 - 1).numpy()
        batches = [x[i:i + batch] for i in range(0, total, batch)]

        def run_torch(batches=batches):
            with torch.inference_mode():
                for b in batches:
                    model(torch.from_numpy(b))

        def run_onnx(batches=batches):
            for b in batches:
                session.logits(b)

        ours_torch = total / timed(run_torch, 1 if quick else 4)
        ours_onnx = total / timed(run_onnx, 1 if quick else 4)
        results[f"score.torch_flows_per_s.b{batch}"] = round(ours_torch)
        results[f"score.onnx_flows_per_s.b{batch}"] = round(ours_onnx)
        results[f"score.onnx_vs_torch.b{batch}"] = round(ours_onnx / ours_torch, 2)
    return results


def model_speeds(quick: bool) -> dict:
    """Every architecture in torch, onnxruntime and onnxruntime int8 at batch 8192."""
    from iotids.models import SHAPES, build_model
    from iotids.onnx_export import OnnxModel

    machine = matmul_gflops()
    results: dict[str, object] = {"machine.matmul_gflops": round(machine, 1)}
    x = (torch.rand(2_048 if quick else 16_384, 64) * 2 - 1).numpy()
    batches = [x[i:i + 8192] for i in range(0, len(x), 8192)]
    for name in SHAPES:
        model = build_model(name, 17).eval()
        runners = {"onnx": OnnxModel(model).logits, "onnx_int8": OnnxModel(model, int8=True).logits}

        def run_torch(model=model):
            with torch.inference_mode():
                for b in batches:
                    model(torch.from_numpy(b))

        repeats = 1 if quick else 2
        speeds = {"torch": len(x) / timed(run_torch, repeats)}
        for runtime, logits in runners.items():
            speeds[runtime] = len(x) / timed(lambda logits=logits: [logits(b) for b in batches], repeats)
        for runtime, speed in speeds.items():
            results[f"score.flows_per_s.{name}.{runtime}"] = round(speed)
        faster = max(("torch", "onnx"), key=speeds.get)
        gflops = speeds[faster] * model.flops_per_sample() / 1e9
        results[f"score.faster_runtime.{name}"] = faster
        results[f"score.gflops.{name}"] = round(gflops, 2)
        results[f"score.machine_share.{name}"] = round(gflops / machine, 3)
    return results


def conn_log(rows_per_label: int, name: str) -> Path:
    from iotids.synthetic_traffic import write_traffic

    return write_traffic(WORK / name, seed=2, rows=rows_per_label)[1]


def detect_run(bundle: Path, log: Path, backend: str) -> float:
    """Flows/s that one `iotids detect` process reports in its summary."""
    done = subprocess.run([sys.executable, "-m", "iotids", "detect", str(bundle), str(log), "--out",
                           str(WORK / f"alerts-{backend}.jsonl"), "--json", "--backend", backend],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout)["inputs"][0]["flows_per_second"]


def detect_speed(bundle: Path, quick: bool) -> dict:
    per_label = 500 if quick else 12_500  # 16 labels: 8k or 200k flows
    log = conn_log(per_label, "1x")
    results = {"score.detect_rows": 16 * per_label}
    for backend in ("torch", "onnx"):
        results[f"score.detect_flows_per_s.{backend}"] = round(detect_run(bundle, log, backend))
    return results


def service_latency(bundle: Path, quick: bool) -> dict:
    from iotids.detect import Scorer
    from iotids.schema import common_features
    from iotids.service import input_columns, score_rows
    from iotids.sources import read

    flows = read(conn_log(100, "service")).select(common_features("zeek-conn")).head(1000).collect().to_dicts()
    body = json.dumps({"flows": flows}).encode()
    scorer = Scorer(bundle)
    columns = input_columns(scorer)
    in_process = timed(lambda: score_rows(scorer, columns, flows), 5)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "iotids", "serve", str(bundle), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        connection = _connect(port, server)
        latencies = []
        for _ in range(20 if quick else 300):
            start = time.perf_counter()
            connection.request("POST", "/v1/score", body, {"content-type": "application/json"})
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise SystemExit(f"service answered {answer.status}")
            latencies.append(time.perf_counter() - start)
    finally:
        server.terminate()
        server.wait(timeout=20)
    p50, p99 = np.percentile(latencies[5:], [50, 99]) * 1000
    return {"service.flows_per_request": len(flows), "service.requests": len(latencies) - 5,
            "service.p50_ms": round(float(p50), 1), "service.p99_ms": round(float(p99), 1),
            "service.in_process_ms": round(in_process * 1000, 1),
            "service.vs_in_process": round(float(p50) / (in_process * 1000), 2)}


def _connect(port: int, server: subprocess.Popen) -> http.client.HTTPConnection:
    deadline = time.monotonic() + 60
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            return connection
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the service did not start: {server.stderr.read().decode()[-500:]}") from None
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rows and requests")
    args = parser.parse_args()
    bundle = make_bundle(25 if args.quick else 150)
    results: dict[str, object] = {"score.input": "SYNTHETIC (iotids.synthetic, iotids.synthetic_traffic)",
                                  "score.threads": torch.get_num_threads()}
    results |= network_speed(bundle, args.quick)
    results |= model_speeds(args.quick)
    results |= detect_speed(bundle, args.quick)
    results |= service_latency(bundle, args.quick)
    report(results)


if __name__ == "__main__":
    main()
