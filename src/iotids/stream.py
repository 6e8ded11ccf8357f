"""A task's model-input tables (``{train,val,test}.parquet``) read row group by row group.

Two ways, one reader: into one preallocated tensor pair when a split fits
the memory budget, or as a stream of shuffled batches when it does not
(out-of-core training). A stream's epoch takes the row groups in an order
drawn from (seed, epoch); under DDP each rank reads only every world-th of
them (its own shard). Rows pass through a shuffle buffer that is permuted
before batches are cut from it, so rows mix across the row groups one
buffer holds, not across the whole split: the budget sets how many.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from iotids.errors import InputError, IotidsError

LABEL_BYTES = 8  # int64 labels


class ModelInputs:
    """One model-input table: the ``features`` columns (float32) and ``label``."""

    def __init__(self, path: str | Path, features: list[str]) -> None:
        self.path = Path(path)
        self.features = list(features)
        try:
            self._file = pq.ParquetFile(self.path)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(self.path, f"cannot read the model inputs ({exc}); rebuild the task") from None
        missing = sorted((set(self.features) | {"label"}) - set(self._file.schema_arrow.names))
        if missing:
            raise InputError(self.path, f"columns missing: {', '.join(missing[:5])}; rebuild the task")
        meta = self._file.metadata
        self.group_rows = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]

    @property
    def rows(self) -> int:
        return sum(self.group_rows)

    @property
    def row_bytes(self) -> int:
        """Bytes one row takes as tensors."""
        return 4 * len(self.features) + LABEL_BYTES

    @property
    def decode_bytes(self) -> int:
        """Transient memory of decoding the largest row group (float64 columns, then float32)."""
        return max(self.group_rows, default=0) * len(self.features) * 12

    def read_group(self, group: int) -> tuple[np.ndarray, np.ndarray]:
        try:
            table = self._file.read_row_group(group, columns=[*self.features, "label"])
        except (OSError, pa.ArrowException) as exc:
            raise InputError(self.path, f"row group {group}: unreadable ({exc})") from None
        x = np.empty((table.num_rows, len(self.features)), dtype=np.float32)
        for j, name in enumerate(self.features):
            x[:, j] = table.column(name).to_numpy()
        return x, table.column("label").to_numpy().astype(np.int64)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole table in memory, filled group by group (no second copy)."""
        x = torch.empty((self.rows, len(self.features)), dtype=torch.float32)
        y = torch.empty(self.rows, dtype=torch.int64)
        start = 0
        for group, n in enumerate(self.group_rows):
            gx, gy = self.read_group(group)
            x[start:start + n], y[start:start + n] = torch.from_numpy(gx), torch.from_numpy(gy)
            start += n
        return x, y

    def label_counts(self, classes: int) -> np.ndarray:
        """Rows per class id, from the label column alone."""
        counts = np.zeros(classes, dtype=np.int64)
        for group in range(len(self.group_rows)):
            try:
                labels = self._file.read_row_group(group, columns=["label"]).column("label").to_numpy()
            except (OSError, pa.ArrowException) as exc:
                raise InputError(self.path, f"row group {group}: unreadable ({exc})") from None
            if len(labels) and (labels.min() < 0 or labels.max() >= classes):
                raise InputError(self.path, f"row group {group}: a label outside the task's {classes} classes")
            counts += np.bincount(labels, minlength=classes)
        return counts

    def batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Every row once, in file order."""
        for group in range(len(self.group_rows)):
            x, y = self.read_group(group)
            for start in range(0, len(y), batch_size):
                yield torch.from_numpy(x[start:start + batch_size]), torch.from_numpy(y[start:start + batch_size])

    def shuffled_batches(self, batch_size: int, buffer: int, seed: int, epoch: int,
                         rank: int = 0, world: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of this rank's shard, through a shuffle buffer of ``buffer`` rows.

        Alone, every row comes once (the last batch may be short). Under DDP
        every rank yields the same number of full batches, however its
        shard's row groups add up, because DDP needs every rank at every
        step; the rows past that count wait for another epoch's draw.
        """
        seed %= 2**64  # numpy seeds are non-negative; torch's, as the CLI's, may not be
        order = np.random.default_rng([seed, epoch]).permutation(len(self.group_rows))
        shard = order[rank::world]
        limit = None
        if world > 1:
            limit = min(sum(self.group_rows[g] for g in order[r::world]) for r in range(world)) // batch_size
        rng = np.random.default_rng([seed, epoch, rank])
        held_x: list[np.ndarray] = []
        held_y: list[np.ndarray] = []
        held, emitted = 0, 0
        for position, group in enumerate(shard):
            x, y = self.read_group(int(group))
            held_x.append(x)
            held_y.append(y)
            held += len(y)
            del x, y
            last = position == len(shard) - 1
            if held < buffer and not last:
                continue
            # At most two copies of the buffer at a time: the concatenation, then its permutation.
            permutation = rng.permutation(held)
            bx = np.concatenate(held_x)
            held_x.clear()
            bx = bx[permutation]
            by = np.concatenate(held_y)[permutation]
            held_y.clear()
            del permutation
            cut = len(by) if last else len(by) // batch_size * batch_size
            for start in range(0, cut, batch_size):
                if limit is not None and (emitted == limit or start + batch_size > cut):
                    return
                yield torch.from_numpy(bx[start:start + batch_size]), torch.from_numpy(by[start:start + batch_size])
                emitted += 1
            held = len(by) - cut  # fewer rows than a batch: carried into the next buffer (a copy, so bx can go)
            if held:
                held_x.append(bx[cut:].copy())
                held_y.append(by[cut:].copy())
            del bx, by


def buffer_rows(inputs: ModelInputs, budget: int, batch_size: int) -> int:
    """Rows the shuffle buffer may hold within ``budget`` bytes: two copies of
    it (and of the row group that may overfill it), beside one row group being
    decoded; a power of two, so that small changes in free memory do not
    change which rows meet in a buffer."""
    largest = max(inputs.group_rows, default=0)
    rows = (budget - inputs.decode_bytes) // (2 * inputs.row_bytes) - largest
    if rows < batch_size:
        least = inputs.decode_bytes + 2 * (batch_size + largest) * inputs.row_bytes
        raise IotidsError(f"--memory-budget {budget:,} bytes is too small to stream {inputs.path}: it needs at "
                          f"least {least / 2**20:.0f} MiB (a row group being read, and two copies of a buffer "
                          f"of a batch and a row group)")
    return 1 << (int(rows).bit_length() - 1)


def available_memory() -> int | None:
    """MemAvailable of this machine in bytes, if the kernel tells."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


SIZE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text: str) -> int:
    """'512M', '2G', '1.5GiB', '1000000' → bytes (binary units)."""
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = value[-1:] if value[-1:] in SIZE_UNITS and value[-1:] else ""
    try:
        number = float(value[:-1] if unit else value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise IotidsError(f"--memory-budget {text!r}: expected a size such as 512M, 4G or a number of bytes")
    size = int(number * SIZE_UNITS[unit])
    if size < 1:
        raise IotidsError(f"--memory-budget {text!r}: must be at least one byte")
    return size
