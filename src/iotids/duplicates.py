"""Exact duplicate task rows, counted (and dropped if asked) in bounded memory.

Two rows are duplicates when their feature values and class are equal. Rows
are compared by a hash of the feature values of their own flow table, so
only rows of the same source and format can collide (the seed schema fills
another source's columns with 0 only later, at preprocessing).

One streaming pass writes every row's (feature hash, class, key) into
Parquet partitions by hash — all rows of one hash land in one partition —
and each partition is then examined alone; the number of partitions grows
with the rows so that one stays near ``PARTITION_ROWS``. Dropping keeps the
first row (smallest key) of each (hash, class); what to keep is one bit per
row of its table.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from iotids.split import ROW_BITS, ROW_MASK, Rows, Run, _local

PARTITION_ROWS = 500_000  # (hash, class, key) rows examined at a time


@dataclass(frozen=True)
class Duplicates:
    rows: int
    duplicate_rows: int  # rows whose features and label repeat an earlier row
    conflicting_rows: int  # rows whose identical features carry more than one label
    dropped: int

    def to_json(self) -> dict:
        return {
            "rows": self.rows,
            "duplicate_rows": self.duplicate_rows,
            "duplicate_rate": round(self.duplicate_rows / self.rows, 6) if self.rows else 0.0,
            "conflicting_rows": self.conflicting_rows,
            "dropped": self.dropped,
        }


def feature_hash(frame: pl.LazyFrame) -> pl.Expr:
    from iotids.dataset import feature_columns

    return pl.struct(feature_columns(frame)).hash(seed=0).alias("hash")


def _spill(rows: Rows, folder: str, partitions: int) -> None:
    """One job: a table's (hash, label, key) rows, partitioned by hash, under ``folder``."""
    frame = rows()
    (frame.select(feature_hash(frame), "label", "key")
     .with_columns((pl.col("hash") % partitions).alias("part"))
     .sink_parquet(pl.PartitionBy(folder, key="part", include_key=False, max_rows_per_file=65_536),
                   row_group_size=65_536))


def find_duplicates(sources: Sequence[Rows], table_rows: dict[int, int], work: Path, drop: bool,
                    run: Run = _local) -> tuple[Duplicates, dict[int, np.ndarray]]:
    """Duplicate statistics, and (``drop``) per table index which rows to keep:
    bits over the table's row ids, packed eight to a byte (np.packbits)."""
    partitions = max(1, math.ceil(sum(table_rows.values()) / PARTITION_ROWS))
    if work.exists():
        shutil.rmtree(work)
    run(_spill, [(rows, str(work / f"t{i}"), partitions) for i, rows in enumerate(sources)])
    rows = duplicate_rows = conflicting = dropped = 0
    # Packed from the start (np.packbits order: row i is bit 7 - i % 8 of byte i // 8): one bit a row.
    keep = {table: np.full((n + 7) // 8, 0xFF, dtype=np.uint8) for table, n in table_rows.items()} if drop else {}
    for part in range(partitions):
        files = sorted(work.glob(f"t*/part={part}/*.parquet"))
        if not files:
            continue
        spilled = pl.scan_parquet(files)
        # Aggregated, not materialised: a frequent row (a flood repeats one
        # flow millions of times) is one group, so memory follows the distinct rows.
        groups = (spilled.group_by("hash", "label").agg(pl.len().alias("n"), pl.col("key").min().alias("first"))
                  .collect(engine="streaming"))
        part_rows = int(groups["n"].sum())
        rows += part_rows
        duplicate_rows += part_rows - groups.height
        per_hash = groups.group_by("hash").agg(pl.len().alias("labels"), pl.col("n").sum())
        conflicting += int(per_hash.filter(pl.col("labels") > 1)["n"].sum() or 0)
        if drop:
            repeats = (spilled.join(groups.lazy().select("hash", "label", "first"), on=["hash", "label"])
                       .filter(pl.col("key") != pl.col("first")).select("key"))
            for batch in repeats.collect_batches(chunk_size=1 << 20):
                keys = batch["key"].to_numpy()
                dropped += len(keys)
                for table in np.unique(keys >> ROW_BITS):
                    row_ids = keys[(keys >> ROW_BITS) == table] & ROW_MASK
                    bits = np.uint8(0x80) >> (row_ids & 7).astype(np.uint8)
                    np.bitwise_and.at(keep[int(table)], row_ids >> 3, ~bits)
        del groups, per_hash
    shutil.rmtree(work)
    return Duplicates(rows, duplicate_rows, conflicting, dropped), keep
