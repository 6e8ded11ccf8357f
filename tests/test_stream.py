"""Out-of-core training: model inputs streamed from Parquet row groups (SYNTHETIC data)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
import torch

from iotids.errors import IotidsError
from iotids.evaluate import evaluate_bundle
from iotids.stream import ModelInputs, buffer_rows, parse_size
from iotids.train import TrainConfig, train
from tiny_task import FEATURES, Stop, make_task, stop_after

GROUP = 50  # rows per row group: the tiny task's 600 train rows become 12 groups


@pytest.fixture(scope="module")
def grouped_task(tmp_path_factory):
    """The tiny task with its tables rewritten in small row groups."""
    folder = make_task(tmp_path_factory.mktemp("stream") / "task")
    for side in ("train", "val", "test"):
        table = pl.read_parquet(folder / f"{side}.parquet")
        table.write_parquet(folder / f"{side}.parquet", row_group_size=GROUP)
    return folder


@pytest.fixture()
def numbered(tmp_path):
    """Rows whose first feature is their row number, in row groups of 50."""
    n = 1_000
    table = pl.DataFrame({"label": (np.arange(n) % 3).astype(np.int32), "f0": np.arange(n, dtype=np.float64),
                          "f1": np.zeros(n)})
    table.write_parquet(tmp_path / "rows.parquet", row_group_size=GROUP)
    return ModelInputs(tmp_path / "rows.parquet", ["f0", "f1"])


def _rows(batches) -> list[np.ndarray]:
    return [x[:, 0].numpy().astype(int) for x, _ in batches]


def test_one_epoch_yields_every_row_once_shuffled_across_groups(numbered):
    batches = _rows(numbered.shuffled_batches(64, buffer=300, seed=0, epoch=1))
    seen = np.concatenate(batches)
    assert sorted(seen) == list(range(1_000))
    assert all(len(b) == 64 for b in batches[:-1]) and len(batches[-1]) == 1_000 % 64
    first = batches[0]
    assert len(set(first // GROUP)) > 1  # one batch mixes several row groups
    again = np.concatenate(_rows(numbered.shuffled_batches(64, 300, seed=0, epoch=1)))
    other = np.concatenate(_rows(numbered.shuffled_batches(64, 300, seed=0, epoch=2)))
    assert np.array_equal(seen, again) and not np.array_equal(seen, other)


def test_ranks_read_disjoint_shards_of_equal_length(numbered):
    shards = [_rows(numbered.shuffled_batches(64, 300, seed=4, epoch=3, rank=r, world=3)) for r in range(3)]
    assert len({len(s) for s in shards}) == 1 and len(shards[0]) > 0  # DDP: the same number of steps
    assert all(len(b) == 64 for s in shards for b in s)
    groups = [set(np.concatenate(s) // GROUP) for s in shards]
    assert not (groups[0] & groups[1]) and not (groups[1] & groups[2]) and not (groups[0] & groups[2])
    rows = np.concatenate([np.concatenate(s) for s in shards])
    assert len(set(rows)) == len(rows) > 1_000 - 3 * (64 + GROUP)


def test_tensors_and_batches_match_the_table(numbered):
    x, y = numbered.tensors()
    assert x.dtype == torch.float32 and torch.equal(x[:, 0], torch.arange(1_000, dtype=torch.float32))
    assert np.array_equal(np.concatenate([b.numpy() for _, b in numbered.batches(128)]), y.numpy())
    assert list(numbered.label_counts(3)) == [334, 333, 333]


def test_streamed_training_learns_and_is_deterministic(grouped_task, tmp_path):
    config = TrainConfig(epochs=8, batch_size=64, seed=1, precision="fp32", memory_budget=120_000)
    meta = train(grouped_task, tmp_path / "a", config)
    data = meta["training"]["data"]
    assert data["mode"] == "stream" and data["row_groups"] == 12
    assert data["shuffle_buffer_rows"] == 64  # the budget holds part of the split; a power of two
    assert meta["metrics"]["val"]["macro_f1"] > 0.9
    assert evaluate_bundle(tmp_path / "a", grouped_task)["accuracy"] > 0.9
    again = train(grouped_task, tmp_path / "b", config)
    assert again["training"]["history"] == meta["training"]["history"]
    roomy = train(grouped_task, tmp_path / "c", TrainConfig(epochs=1, batch_size=64, memory_budget=2**30))
    assert roomy["training"]["data"]["mode"] == "memory"


def test_budget_errors(grouped_task, tmp_path):
    with pytest.raises(IotidsError, match="too small to stream"):
        train(grouped_task, tmp_path / "a", TrainConfig(epochs=1, batch_size=64, memory_budget=40_000))
    with pytest.raises(IotidsError, match="--sampling balanced draws from the whole train split"):
        train(grouped_task, tmp_path / "b", TrainConfig(epochs=1, sampling="balanced", memory_budget=120_000))
    with pytest.raises(IotidsError, match="too small"):
        buffer_rows(ModelInputs(grouped_task / "train.parquet", FEATURES), 10, 64)


@pytest.mark.parametrize(("text", "size"), [("512M", 512 << 20), ("2G", 2 << 30), ("1.5GiB", 3 << 29),
                                            ("4096", 4096), ("64kb", 64 << 10)])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1G", "0", "0.1", "inf", "nan"])
def test_parse_size_refuses(text):
    with pytest.raises(IotidsError, match="--memory-budget"):
        parse_size(text)


def test_cli_memory_budget(grouped_task, tmp_path, cli):
    result = cli("train", grouped_task, "--out", tmp_path / "b", "--epochs", "1", "--batch-size", "64",
                 "--memory-budget", "120000")
    assert result.code == 0 and "streamed from 12 row groups" in result.stdout, result.stderr
    assert json.loads((tmp_path / "b" / "bundle.json").read_text())["training"]["data"]["mode"] == "stream"
    result = cli("train", grouped_task, "--out", tmp_path / "c", "--memory-budget", "lots")
    assert result.code == 2 and "--memory-budget 'lots'" in result.stderr


def test_ddp_ranks_stream_their_own_shards(grouped_task, tmp_path):
    task = tmp_path / "task"
    shutil.copytree(grouped_task, task)
    out = tmp_path / "ddp"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "iotids", "train", str(task), "--out", str(out), "--epochs", "2", "--batch-size", "64",
         "--memory-budget", "120000"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    training = json.loads((out / "bundle.json").read_text())["training"]
    assert training["world_size"] == 2 and training["data"]["mode"] == "stream"
    assert training["data"]["row_groups_per_rank"] == 6


def test_negative_seed_streams(grouped_task, tmp_path):
    meta = train(grouped_task, tmp_path / "a", TrainConfig(epochs=1, batch_size=64, seed=-3, memory_budget=120_000))
    assert meta["training"]["data"]["mode"] == "stream"


def test_resume_keeps_the_way_rows_were_fed(grouped_task, tmp_path, monkeypatch):
    """With the default budget the choice depends on free memory; a resumed run keeps the first run's."""
    import iotids.train as training

    config = TrainConfig(epochs=3, batch_size=64, seed=2, patience=10, precision="fp32")
    monkeypatch.setattr(training, "available_memory", lambda: 240_000)  # half: 120,000 bytes → stream
    whole = train(grouped_task, tmp_path / "whole", config)
    assert whole["training"]["data"]["mode"] == "stream"

    with pytest.raises(Stop):
        train(grouped_task, tmp_path / "resumed", config, on_epoch=stop_after(1))
    monkeypatch.setattr(training, "available_memory", lambda: 2**34)  # now everything would fit
    resumed = train(grouped_task, tmp_path / "resumed", config)
    assert resumed["training"]["data"]["mode"] == "stream"
    assert resumed["training"]["history"] == whole["training"]["history"]
