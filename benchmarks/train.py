"""Training throughput: the project's loop vs a plain DataLoader(TensorDataset) loop.

Same model, same batch size (1024), same SYNTHETIC random inputs; one epoch
each after a warm-up. The project's loop runs as `iotids train` does by
default (bf16 autocast where the CPU has native bf16, fused AdamW); the
baseline is the textbook loop (float32, DataLoader with shuffle, AdamW).
Prints samples/s of both and their ratio per model,
the achieved GFLOP/s (model FLOPs per sample × 3 for forward and backward),
and the machine's float32 matmul GFLOP/s as the ceiling; ``--compile`` also
measures torch.compile. Merges the figures into benchmarks/results.json:
  train.vs_dataloader.<model>   project loop samples/s ÷ DataLoader loop samples/s
  train.fp32_vs_dataloader.<model>  the same with the project loop forced to float32
  train.samples_per_s.<model>   project loop
  train.gflops.<model>          achieved by the project loop
  train.machine_share.<model>   that ÷ the machine's matmul GFLOP/s in the dtype training ran in
  machine.matmul_gflops         2048×2048 float32 matmul (and _bf16: the same in bfloat16)
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from iotids.models import SHAPES, build_model
from iotids.train import TrainConfig, autocast_dtype, make_optimizer, run_epoch
from report import report, timed

BATCH = 1024


def project_epoch(model, optimizer, x, y, generator, dtype) -> None:
    """iotids.train's own epoch: a permutation, index batches of in-memory tensors."""
    run_epoch(model, optimizer, x, y, torch.randperm(len(y), generator=generator), BATCH, dtype=dtype)


def dataloader_epoch(model, optimizer, loader) -> None:
    model.train()
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def matmul_gflops(dtype: torch.dtype = torch.float32) -> float:
    a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
    seconds = timed(lambda: a @ b, 5)
    return 2 * 2048**3 / seconds / 1e9


def measure_model(name: str, x: torch.Tensor, y: torch.Tensor, repeats: int, dtype, compile_too: bool) -> dict:
    rows = len(y)
    model = build_model(name, 17)
    optimizer = make_optimizer(model, TrainConfig())
    generator = torch.Generator().manual_seed(0)
    ours = rows / timed(lambda: project_epoch(model, optimizer, x, y, generator, dtype), repeats)
    fp32 = rows / timed(lambda: project_epoch(model, optimizer, x, y, generator, None), repeats)
    baseline = build_model(name, 17)
    plain = torch.optim.AdamW(baseline.parameters())
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True)
    theirs = rows / timed(lambda: dataloader_epoch(baseline, plain, loader), repeats)
    flops = 3 * model.flops_per_sample()
    results = {
        f"train.samples_per_s.{name}": round(ours),
        f"train.dataloader_samples_per_s.{name}": round(theirs),
        f"train.vs_dataloader.{name}": round(ours / theirs, 2),
        f"train.fp32_vs_dataloader.{name}": round(fp32 / theirs, 2),
        f"train.gflops.{name}": round(ours * flops / 1e9, 2),
    }
    if compile_too:
        compiled = torch.compile(model)
        started = time.perf_counter()
        project_epoch(compiled, optimizer, x, y, generator, dtype)
        results[f"train.compile_seconds.{name}"] = round(time.perf_counter() - started, 1)
        fast = rows / timed(lambda: project_epoch(compiled, optimizer, x, y, generator, dtype), repeats)
        results[f"train.compiled_vs_eager.{name}"] = round(fast / ours, 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,048 rows instead of 65,536")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile (slow to compile)")
    args = parser.parse_args()
    rows = 2_048 if args.quick else 65_536
    repeats = 1 if args.quick else 2
    torch.manual_seed(0)
    x, y = torch.rand(rows, 64) * 2 - 1, torch.randint(0, 17, (rows,))
    results: dict[str, object] = {"train.rows": rows, "train.batch": BATCH, "train.threads": torch.get_num_threads(),
                                  "train.input": "SYNTHETIC random rows"}
    results["machine.matmul_gflops"] = round(matmul_gflops(), 1)
    results["machine.matmul_gflops_bf16"] = round(matmul_gflops(torch.bfloat16), 1)
    dtype = autocast_dtype("auto", torch.device("cpu"))  # what `iotids train` uses by default here
    results["train.autocast"] = str(dtype).removeprefix("torch.") if dtype else "float32"
    for name in SHAPES:
        results |= measure_model(name, x, y, repeats, dtype, args.compile)
        # Against the matmul rate of the dtype training computes in (bf16 autocast or fp32).
        ceiling = results["machine.matmul_gflops_bf16" if dtype == torch.bfloat16 else "machine.matmul_gflops"]
        results[f"train.machine_share.{name}"] = round(results[f"train.gflops.{name}"] / ceiling, 3)
    report(results)

if __name__ == "__main__":
    main()
