"""Training: splits as tensors and shuffled index batches, AdamW, early
stopping on validation macro-F1, resumable, deterministic for a seed.

When train and val do not fit ``--memory-budget`` (default: half the memory
available at start), they stream from their Parquet row groups instead
(iotids.stream): a shuffle buffer as large as the budget allows, each DDP
rank reading its own shard of row groups. Which way, and the buffer, are
decided once (by rank 0 under DDP), kept by a resumed run and recorded in
the bundle; for the same seed, the same way gives the same model.

Runs alone or under ``torchrun --nproc-per-node N`` (DDP; gloo on CPU, nccl
on GPU): each process takes its share of every epoch's permutation (or,
streaming, its shard of row groups), rank 0 writes the checkpoint and the bundle.

Resumability without pickles: after every epoch ``OUT/checkpoint/state.safetensors``
holds the model, the best model and the optimizer state, with the JSON state
(epoch, history, configuration) in its metadata. The epoch's permutation and dropout draws are seeded from (seed,
epoch), so a resumed run continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from iotids.atomic import atomic_path, sweep
from iotids.bundle import save_bundle
from iotids.errors import InputError, IotidsError
from iotids.evaluate import macro_f1
from iotids.features import Preprocessor
from iotids.models import SHAPES, build_model
from iotids.stream import ModelInputs, available_memory, buffer_rows

CHECKPOINT = "checkpoint"


@dataclass(frozen=True)
class TrainConfig:
    model: str = "cnn1d"
    epochs: int = 30
    batch_size: int = 1024
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 5
    seed: int = 0
    class_weights: bool = False
    precision: str = "auto"  # auto: bf16 autocast where the hardware has bf16, else fp32
    compile: bool = False  # torch.compile (slow to start; eager fallback if it fails)
    transfer_from: str | None = None  # a bundle whose trunk is fine-tuned with a new head
    freeze: bool = True  # with transfer_from: train the new head only
    loss: str = "ce"  # ce: cross-entropy; focal: focal loss (gamma 2), for rare classes
    sampling: str = "shuffle"  # shuffle: each row once per epoch; balanced: classes drawn equally often
    tune_thresholds: bool = False  # calibrate and choose per-class thresholds on val (iotids.decision)
    memory_budget: int | None = None  # bytes for the train+val tensors, or the shuffle buffer when they do not
    # fit; None: half of MemAvailable, shared by the ranks of this node


@dataclass
class EpochReport:
    epoch: int
    epochs: int
    loss: float
    val_macro_f1: float
    val_accuracy: float
    seconds: float
    best: bool


@dataclass
class Split:
    x: torch.Tensor  # (rows, 64) float32
    y: torch.Tensor  # (rows,) int64


@dataclass
class TaskData:
    manifest: dict
    preprocessor: Preprocessor
    splits: dict[str, Split] = field(default_factory=dict)


def load_task(task_dir: str | Path, splits: tuple[str, ...] = ("train", "val")) -> TaskData:
    """Read a task directory's manifest, preprocessor and model inputs as tensors."""
    folder = Path(task_dir)
    manifest_path = folder / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except OSError:
        raise InputError(folder, "not a task directory (no manifest.json; make one with `iotids build`)") from None
    except ValueError as exc:
        raise InputError(manifest_path, f"not valid JSON ({exc})") from None
    features = manifest.get("features", [])
    if len(features) != 64:
        raise InputError(manifest_path, f"the models take 64 features; this task has {len(features)} "
                                        "(rebuild it with --k 64)")
    data = TaskData(manifest, Preprocessor.load(folder / "preprocessor.json"))
    for name in splits:
        data.splits[name] = Split(*ModelInputs(folder / f"{name}.parquet", features).tensors())
    return data


def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
    """Logits for ``x`` in batches (eval mode, no gradients), as float32."""
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            out.append(model(x[start:start + batch_size]).float())
    return torch.cat(out) if out else torch.empty(0)


def scored_batches(model: nn.Module, inputs: ModelInputs, device: torch.device | None = None,
                   batch_size: int = 8192) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(logits, true class) of a model-input table's rows, batch by batch in file order (streamed)."""
    for x, y in inputs.batches(batch_size):
        yield predict_logits(model, x if device is None else x.to(device)).cpu().numpy(), y.numpy()


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes in bfloat16 natively (CPU: AVX512-BF16 or AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """None for float32 training, else the autocast dtype."""
    if precision not in ("auto", "fp32", "bf16"):
        raise IotidsError(f"--precision must be auto, fp32 or bf16, not {precision!r}")
    if precision == "bf16" or (precision == "auto" and native_bf16(device)):
        return torch.bfloat16
    return None


FOCAL_GAMMA = 2.0


def focal_loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Focal loss (Lin et al. 2017): cross-entropy scaled by (1 - p_true)^gamma,
    so confidently right rows count little and hard, rare rows count more."""
    log_p = F.log_softmax(logits.float(), dim=1).gather(1, target[:, None]).squeeze(1)
    loss = -((1 - log_p.exp()) ** FOCAL_GAMMA) * log_p
    if weight is not None:
        loss = loss * weight[target]
        return loss.sum() / weight[target].sum()
    return loss.mean()


LOSSES = {"ce": F.cross_entropy, "focal": focal_loss}
SAMPLINGS = ("shuffle", "balanced")


def epoch_order(y: torch.Tensor, sampling: str, generator: torch.Generator) -> torch.Tensor:
    """Row indices for one epoch: a permutation, or (balanced) as many draws
    with replacement, every class equally likely."""
    if sampling == "shuffle":
        return torch.randperm(len(y), generator=generator)
    counts = torch.bincount(y).double()
    return torch.multinomial((1.0 / counts)[y], len(y), replacement=True, generator=generator)


def run_epoch(net: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
              order: torch.Tensor, batch_size: int, weights: torch.Tensor | None = None,
              dtype: torch.dtype | None = None, loss_name: str = "ce") -> tuple[float, int]:
    """One pass over ``order``: index batches of the in-memory tensors, no
    DataLoader. Returns (summed loss, rows seen)."""
    batches = ((x[b], y[b]) for b in order.split(batch_size))
    return run_batches(net, optimizer, batches, x.device, weights, dtype, loss_name)


def run_batches(net: nn.Module, optimizer: torch.optim.Optimizer, batches, device: torch.device,
                weights: torch.Tensor | None = None, dtype: torch.dtype | None = None,
                loss_name: str = "ce") -> tuple[float, int]:
    """One optimisation step per (x, y) batch. Returns (summed loss, rows seen)."""
    net.train()
    criterion = LOSSES[loss_name]
    total, seen = 0.0, 0
    for xb, yb in batches:
        xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = criterion(net(xb), yb, weight=weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(yb)
        seen += len(yb)
    return total, seen


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    trainable = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay, fused=True)


class _Distributed:
    """The DDP context, or a single process when not launched by torchrun."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        cuda = torch.cuda.is_available()
        self.device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if cuda else "cpu")
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group(backend="nccl" if cuda else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        if self.world == 1:
            return model
        return nn.parallel.DistributedDataParallel(
            model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def train(task_dir: str | Path, out_dir: str | Path, config: TrainConfig,
          on_epoch: Callable[[EpochReport], None] = lambda report: None) -> dict:
    """Train on TASK_DIR's train split, stop early on val macro-F1, write the
    best model as a bundle in OUT_DIR; return the bundle metadata."""
    if config.model not in SHAPES:
        raise IotidsError(f"unknown model {config.model!r}; expected one of {', '.join(SHAPES)}")
    if config.epochs < 1 or config.batch_size < 1:
        raise IotidsError("--epochs and --batch-size must be at least 1")
    if config.loss not in LOSSES:
        raise IotidsError(f"--loss must be one of {', '.join(LOSSES)}, not {config.loss!r}")
    if config.sampling not in SAMPLINGS:
        raise IotidsError(f"--sampling must be one of {', '.join(SAMPLINGS)}, not {config.sampling!r}")
    dist = _Distributed()
    try:
        return _train(task_dir, Path(out_dir), config, on_epoch, dist)
    finally:
        dist.close()


def _train(task_dir, out: Path, config: TrainConfig, on_epoch, dist: _Distributed) -> dict:
    torch.manual_seed(config.seed)
    data = load_task(task_dir, splits=())
    classes = data.manifest["classes"]
    rows = _Rows(Path(task_dir), data.manifest["features"], config, dist, _recorded_feed(out))
    model, parent = _initial_model(config, data, task_dir)
    model = model.to(dist.device)
    optimizer = make_optimizer(model, config)
    dtype = autocast_dtype(config.precision, dist.device)
    weights = _class_weights(rows.class_counts(len(classes))).to(dist.device) if config.class_weights else None
    state = {"epoch": 0, "best_f1": -1.0, "best_epoch": 0, "history": []}
    best_state = {k: v.clone() for k, v in model.state_dict().items()}
    if dist.main:
        for folder in (out, out / CHECKPOINT):
            sweep(folder)
    resumed = _load_checkpoint(out, config, model, optimizer)
    if resumed is not None:
        state, best_state = resumed
    net = dist.wrap(model)
    if config.compile:
        net = _compiled(net)
    started = time.perf_counter()
    for epoch in range(state["epoch"] + 1, config.epochs + 1):
        if epoch - state["best_epoch"] > config.patience and state["best_epoch"] > 0:
            break
        tick = time.perf_counter()
        torch.manual_seed(config.seed * 100_003 + epoch + dist.rank)  # dropout draws
        try:
            total, seen = run_batches(net, optimizer, rows.epoch(epoch), dist.device, weights, dtype, config.loss)
        except Exception:
            if not config.compile or net is model:
                raise
            net = dist.wrap(model)  # torch.compile failed: continue eagerly
            total, seen = run_batches(net, optimizer, rows.epoch(epoch), dist.device, weights, dtype, config.loss)
        truth, predicted = rows.validate(model)
        f1 = macro_f1(truth, predicted, len(classes)) if len(predicted) else 0.0
        accuracy = float((predicted == truth).mean()) if len(predicted) else 0.0
        best = f1 > state["best_f1"]
        if best:
            state.update(best_f1=f1, best_epoch=epoch)
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        state["epoch"] = epoch
        state["feed"] = rows.feed
        state["history"].append({"epoch": epoch, "loss": total / max(seen, 1), "val_macro_f1": f1,
                                 "val_accuracy": accuracy})
        if dist.main:
            _save_checkpoint(out, config, model, optimizer, state, best_state)
            on_epoch(EpochReport(epoch, config.epochs, total / max(seen, 1), f1, accuracy,
                                 time.perf_counter() - tick, best))
        dist.barrier()
    model.load_state_dict(best_state)
    decision = None
    if config.tune_thresholds and rows.val.rows:
        from iotids.decision import fit_decision

        decision = fit_decision(*rows.val_logits(model))
    meta = {
        "classes": classes,
        "features": data.manifest["features"],
        "preprocessor": data.preprocessor.to_json(),
        "training": asdict(config) | {"epochs_run": state["epoch"], "best_epoch": state["best_epoch"],
                                      "seconds": round(time.perf_counter() - started, 2),
                                      "world_size": dist.world, "rows": rows.train.rows,
                                      "data": rows.describe(),
                                      "autocast": str(dtype).removeprefix("torch.") if dtype else "float32",
                                      "history": state["history"]},
        "seed": config.seed,
        "metrics": {"val": {"macro_f1": state["best_f1"],
                            "accuracy": state["history"][state["best_epoch"] - 1]["val_accuracy"]
                            if state["best_epoch"] else 0.0}},
        "task": {k: data.manifest.get(k) for k in ("task", "binary", "schema", "split", "seed", "synthetic")}
        | {"directory": str(Path(task_dir).resolve()),
           "formats": sorted({i["format"] for i in data.manifest.get("inputs", [])})},
        "parent": parent,
        "decision": decision,
    }
    if dist.main:
        save_bundle(out, model.cpu(), meta)
    dist.barrier()
    return meta


class _Rows:
    """Train and val rows for the loop: tensors when they fit the memory budget,
    else streamed from their Parquet row groups (iotids.stream)."""

    def __init__(self, folder: Path, features: list[str], config: TrainConfig, dist: _Distributed,
                 recorded: dict | None = None) -> None:
        self.train = ModelInputs(folder / "train.parquet", features)
        self.val = ModelInputs(folder / "val.parquet", features)
        if self.train.rows == 0:
            raise InputError(folder, "the train split is empty")
        self.config, self.dist = config, dist
        self.need = (self.train.rows + self.val.rows) * self.train.row_bytes
        # How rows are fed changes their order, so a resumed run keeps the way it
        # started, and under DDP rank 0 decides for every rank.
        self.feed = (recorded or self._decide()) if dist.main else None
        if dist.world > 1:
            shared = [self.feed]
            torch.distributed.broadcast_object_list(shared, src=0)
            self.feed = shared[0]
        self.budget = self.feed["memory_budget"]
        self.streamed = self.feed["mode"] == "stream"
        if self.streamed:
            self.buffer_rows = self.feed["shuffle_buffer_rows"]
        else:
            self.x, self.y = (t.to(dist.device) for t in self.train.tensors())
            self.val_x, self.val_y = self.val.tensors()
            self.val_x = self.val_x.to(dist.device)

    def _decide(self) -> dict:
        """Memory or stream, and the shuffle buffer, for this machine's budget."""
        config, dist = self.config, self.dist
        budget = config.memory_budget
        if budget is None:  # half of what is free, shared by the ranks on this node
            available = available_memory()
            budget = available // 2 // int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if available else None
        if budget is None or self.need <= budget:
            return {"mode": "memory", "memory_budget": budget}
        if config.sampling != "shuffle":
            raise IotidsError(f"--sampling {config.sampling} draws from the whole train split, which must fit "
                              f"in memory: train+val need {self.need / 2**30:.2f} GiB, the memory budget is "
                              f"{budget / 2**30:.2f} GiB; raise --memory-budget")
        groups = sorted(self.train.group_rows)
        if sum(groups[:len(groups) // dist.world]) < config.batch_size:
            raise IotidsError(f"{self.train.path}: {len(groups)} row groups cannot give each of {dist.world} ranks "
                              f"a full batch of {config.batch_size}; lower --batch-size or raise --memory-budget")
        return {"mode": "stream", "memory_budget": budget,
                "shuffle_buffer_rows": buffer_rows(self.train, budget, config.batch_size)}

    def class_counts(self, classes: int) -> torch.Tensor:
        if self.streamed:
            return torch.from_numpy(self.train.label_counts(classes))
        return torch.bincount(self.y.cpu(), minlength=classes)

    def epoch(self, epoch: int):
        """This rank's (x, y) batches of one epoch, drawn from (seed, epoch)."""
        config, dist = self.config, self.dist
        if self.streamed:
            return self.train.shuffled_batches(config.batch_size, self.buffer_rows, config.seed, epoch,
                                               dist.rank, dist.world)
        generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
        per_rank = len(self.y) // dist.world
        order = epoch_order(self.y.cpu(), config.sampling, generator)[dist.rank::dist.world][:per_rank]
        return ((self.x[b], self.y[b]) for b in order.to(self.x.device).split(config.batch_size))

    def validate(self, model: nn.Module) -> tuple[np.ndarray, np.ndarray]:
        """(true class, predicted class) of every val row."""
        if not self.streamed:
            logits = predict_logits(model, self.val_x)
            return self.val_y.numpy(), logits.argmax(1).cpu().numpy() if len(logits) else np.empty(0, np.int64)
        truth, predicted = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
        for logits, y in scored_batches(model, self.val, self.dist.device):
            truth.append(y)
            predicted.append(logits.argmax(1))
        return np.concatenate(truth), np.concatenate(predicted)

    def val_logits(self, model: nn.Module) -> tuple[np.ndarray, np.ndarray]:
        if not self.streamed:
            return predict_logits(model, self.val_x).cpu().numpy(), self.val_y.numpy()
        parts = list(scored_batches(model, self.val, self.dist.device))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def describe(self) -> dict:
        """How the rows were fed, for the bundle's record."""
        described = self.feed | {"bytes_needed_in_memory": self.need, "row_groups": len(self.train.group_rows)}
        if self.streamed:
            described["row_groups_per_rank"] = len(self.train.group_rows[self.dist.rank::self.dist.world])
        return described


def _initial_model(config: TrainConfig, data: TaskData, task_dir) -> tuple[nn.Module, dict | None]:
    """A fresh model, or the trunk of ``config.transfer_from`` with a new head."""
    classes = data.manifest["classes"]
    if config.transfer_from is None:
        return build_model(config.model, len(classes)), None
    from iotids.bundle import WEIGHTS, load_bundle
    from iotids.ingest import sha256_file
    from iotids.models import transfer_model

    source = load_bundle(config.transfer_from)
    if source.features != data.manifest["features"]:
        raise InputError(task_dir, "its features differ from the source bundle's; build it with "
                                   f"`iotids build … --like {config.transfer_from}`")
    if source.meta["architecture"]["name"] != config.model:
        raise IotidsError(f"--model {config.model} but the source bundle is a "
                          f"{source.meta['architecture']['name']}")
    model = transfer_model(source.model, len(classes), freeze=config.freeze)
    parent = {"bundle": str(Path(config.transfer_from).resolve()),
              "sha256": sha256_file(Path(config.transfer_from) / WEIGHTS),
              "classes": source.classes, "task": source.meta.get("task"), "freeze": config.freeze}
    return model, parent


def _compiled(net: nn.Module) -> nn.Module:
    try:
        return torch.compile(net)
    except Exception:  # no compiler toolchain: eager it is
        return net


def _class_weights(counts: torch.Tensor) -> torch.Tensor:
    """Inverse class frequency, normalised to mean 1 over the present classes."""
    counts, classes = counts.double(), len(counts)
    weights = torch.where(counts > 0, counts.sum() / (classes * counts.clamp(min=1)), torch.zeros_like(counts))
    present = counts > 0
    return (weights / weights[present].mean()).float()


# --- checkpoints (safetensors + JSON, no pickle) ------------------------------------------


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    tensors = {}
    for i, parameter in enumerate(optimizer.param_groups[0]["params"]):
        for key, value in optimizer.state.get(parameter, {}).items():
            tensors[f"optimizer.{i}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    return tensors


def _save_checkpoint(out: Path, config: TrainConfig, model: nn.Module, optimizer, state: dict,
                     best_state: dict) -> None:
    from safetensors.torch import save_file

    folder = out / CHECKPOINT
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors |= {f"best.{k}": v.detach().cpu().contiguous() for k, v in best_state.items()}
    tensors |= _optimizer_tensors(optimizer)
    # One file, renamed into place: a run killed at any moment leaves the
    # previous epoch's checkpoint or this one, never weights of one epoch
    # beside the counters of another.
    document = json.dumps({"format_version": 1, "config": asdict(config), **state})
    with atomic_path(folder / "state.safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"state": document})


def _recorded_feed(out: Path) -> dict | None:
    """How an interrupted run in ``out`` fed its rows, if it says (read from the
    checkpoint's metadata; a bad checkpoint is reported by _load_checkpoint)."""
    from safetensors import SafetensorError, safe_open

    path = out / CHECKPOINT / "state.safetensors"
    if not path.exists():
        return None
    try:
        with safe_open(str(path), "pt") as handle:
            feed = json.loads((handle.metadata() or {})["state"]).get("feed")
    except (OSError, ValueError, KeyError, AttributeError, SafetensorError):
        return None
    return feed if isinstance(feed, dict) and feed.get("mode") in ("memory", "stream") else None


def _load_checkpoint(out: Path, config: TrainConfig, model: nn.Module, optimizer):
    """Restore an interrupted run with the same configuration, if there is one."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    folder = out / CHECKPOINT
    if not (folder / "state.safetensors").exists():
        return None
    try:
        with safe_open(str(folder / "state.safetensors"), "pt") as handle:
            state = json.loads((handle.metadata() or {})["state"])
        tensors = load_file(str(folder / "state.safetensors"))
    except (OSError, ValueError, KeyError, SafetensorError) as exc:
        raise InputError(folder, f"unreadable checkpoint ({exc}); remove it to start afresh") from None
    if state.get("config") != asdict(config):
        raise IotidsError(f"{folder}: a checkpoint of a different configuration exists; "
                          "remove it or use another --out")
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
    for i, parameter in enumerate(optimizer.param_groups[0]["params"]):
        entries = {k.split(".", 2)[2]: v for k, v in tensors.items() if k.startswith(f"optimizer.{i}.")}
        if entries:
            optimizer.state[parameter] = entries
    state.pop("config")
    state.pop("format_version", None)
    return state, best
