"""The table `make bench` ends with: the headline figures of benchmarks/results.json.

Every figure was measured by the other scripts in this folder on this
machine; ratios are against baselines measured in the same run. A key no
benchmark has written yet shows as "—" and is listed at the end.
"""

from __future__ import annotations

import json

from report import RESULTS

MODELS = ("cnn1d", "cnn2d", "cnn3d")
SIZES = ("1x", "4x", "16x")


def rows(results: dict) -> list[tuple[str, list[str]]]:
    """(section, lines) in reading order."""
    def get(key: str) -> str:
        value = results.get(key)
        return "—" if value is None else f"{value:,}" if isinstance(value, int) else str(value)

    machine = [f"fp32 matmul {get('machine.matmul_gflops')} GFLOP/s, bf16 {get('machine.matmul_gflops_bf16')} "
               f"GFLOP/s; torch threads {get('train.threads')}"]
    ingest = [f"rows/s {get('ingest.rows_per_s')}  vs pandas.read_csv {get('ingest.vs_pandas')}x  "
              f"vs read_csv+to_parquet {get('ingest.vs_pandas_to_parquet')}x  peak RSS "
              f"{get('ingest.peak_rss_mb')} MB ({get('ingest.rss_vs_pandas')}x pandas)  [{get('ingest.input')}]"]
    train = [f"{m}: {get(f'train.samples_per_s.{m}')} samples/s, vs DataLoader {get(f'train.vs_dataloader.{m}')}x, "
             f"{get(f'train.gflops.{m}')} GFLOP/s = {get(f'train.machine_share.{m}')} of the machine"
             for m in MODELS]
    score = [f"{m}: flows/s torch {get(f'score.flows_per_s.{m}.torch')}, onnxruntime "
             f"{get(f'score.flows_per_s.{m}.onnx')}, int8 {get(f'score.flows_per_s.{m}.onnx_int8')}; faster "
             f"{get(f'score.faster_runtime.{m}')}, {get(f'score.gflops.{m}')} GFLOP/s = "
             f"{get(f'score.machine_share.{m}')} of the machine" for m in MODELS]
    score.append(f"detect end to end: {get('score.detect_flows_per_s.torch')} flows/s torch, "
                 f"{get('score.detect_flows_per_s.onnx')} onnxruntime; service p50 {get('service.p50_ms')} ms, "
                 f"p99 {get('service.p99_ms')} ms per {get('service.flows_per_request')} flows")
    growth = [f"input: {get('growth.input')}"]
    for stage in ("ingest", "build", "detect"):
        curve = ", ".join(f"{k} {get(f'growth.{stage}.seconds.{k}')} s / {get(f'growth.{stage}.rss_mb.{k}')} MB"
                          for k in SIZES)
        growth.append(f"{stage}: {curve}; 16x time {get(f'{stage}.time_growth_16x')}x (goal <= 17), "
                      f"memory {get(f'{stage}.rss_growth_16x')}x (goal <= 1.5): {get(f'{stage}.goals_met')}")
    quantize = [f"{m}: test accuracy float32 {get(f'quantize.{m}.accuracy.onnx')} -> int8 "
                f"{get(f'quantize.{m}.accuracy.onnx_int8')}, macro-F1 {get(f'quantize.{m}.macro_f1.onnx')} -> "
                f"{get(f'quantize.{m}.macro_f1.onnx_int8')}, same class on {get(f'quantize.{m}.int8_agreement')} "
                f"of rows" for m in MODELS]
    quantize.insert(0, f"input: {get('quantize.input')}, {get('quantize.test_rows')} test rows")
    return [("machine", machine), ("ingest", ingest), ("train (SYNTHETIC rows)", train),
            ("score (SYNTHETIC rows)", score), ("growth", growth), ("int8 quantization", quantize)]


def main() -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    print(f"\nbenchmarks/results.json, measured {results.get('measured_at', 'never')}"
          f"{' (QUICK sizes)' if results.get('ingest.quick') else ''}")
    for section, lines in rows(results):
        print(f"\n{section}")
        for line in lines:
            print(f"  {line}")
    missing = [line for _, lines in rows(results) for line in lines if "—" in line]
    if missing:
        print(f"\n{len(missing)} line(s) hold figures not measured yet (—): run `make bench`")


if __name__ == "__main__":
    main()
