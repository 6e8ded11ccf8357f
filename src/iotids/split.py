"""Which side of the split (train 0, val 1, test 2) each task row goes to, in bounded memory.

No per-row index is held: every rule is a Polars expression over a row's
key, row_id and label, plus small aggregates gathered in streaming passes,
so a build's memory does not grow with its number of rows.

- A row's place in a random draw is a 64-bit hash of its key and the seed
  (splitmix64's finaliser: a bijection, so no two rows tie). Per class, the
  rows with the smallest hashes are train, the next ones val, the rest
  test, in exactly the counts ``assign_counts`` gives. The cut points are
  found with a histogram of the hashes' top 16 bits per class, then one
  look into the bucket that holds each cut.
- grouped: whole flow tables (captures) go to one side; a table holding a
  class that whole tables cannot bring to every side is cut into blocks of
  rows in file order (by row_id), each block wholly on one side. Decided
  from per-(table, block, class) row counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from iotids.schema import lookup

FRACTIONS = (0.7, 0.1, 0.2)  # our assumption: the study does not state its split
BLOCKS = 10  # grouped: a cut capture's blocks of rows
DRAW = "_draw"
BUCKET_BITS = 16
ROW_BITS = 40  # a task row's key = table index << ROW_BITS | row_id
ROW_MASK = (1 << ROW_BITS) - 1
_GOLDEN, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB

Run = Callable[[Callable, Sequence[tuple]], list]  # runs (function, jobs) here or on a cluster
Rows = Callable[[], pl.LazyFrame]  # makes one table's task rows (key, label, …) where it is called


def _local(fn: Callable, jobs: Sequence[tuple]) -> list:
    return [fn(*job) for job in jobs]


def draw(seed: int) -> pl.Expr:
    """A row's 64-bit random draw: splitmix64 of (key, seed), wrapping UInt64 arithmetic."""
    z = pl.col("key").cast(pl.UInt64) + pl.lit((_GOLDEN * (seed + 1)) % 2**64, pl.UInt64)
    z = z.xor(z // (1 << 30)) * pl.lit(_MIX1, pl.UInt64)
    z = z.xor(z // (1 << 27)) * pl.lit(_MIX2, pl.UInt64)
    return z.xor(z // (1 << 31)).alias(DRAW)


def assign_counts(n: int) -> tuple[int, int, int]:
    """(train, val, test) rows of a class of n: each side its share, rounded,
    and val and test at least one row each when there are three or more."""
    n_test = max(round(n * FRACTIONS[2]), 1 if n >= 3 else 0)
    n_val = max(round(n * FRACTIONS[1]), 1 if n >= 3 else 0)
    return n - n_test - n_val, n_val, n_test


def train_val_counts(n: int) -> tuple[int, int]:
    """(train, val) of n rows in the study's 70:10 proportion (holdout: no test share)."""
    n_val = round(n * FRACTIONS[1] / (FRACTIONS[0] + FRACTIONS[1])) if n >= 2 else 0
    return n - n_val, n_val


# --- exact per-class cuts of the random draw ---------------------------------------------


def _bucket(value: pl.Expr) -> pl.Expr:
    """A draw's histogram bucket: its top BUCKET_BITS bits."""
    return (value // (1 << (64 - BUCKET_BITS))).cast(pl.UInt32)


def _histogram(rows: Rows, seed: int) -> pl.DataFrame:
    return (rows().select("label", _bucket(draw(seed)).alias("bucket"))
            .group_by("label", "bucket").len().collect(engine="streaming"))


def _bucket_draws(rows: Rows, seed: int, wanted: list[tuple[int, int]]) -> pl.DataFrame:
    bucket = _bucket(draw(seed))
    chosen = pl.any_horizontal([(pl.col("label") == label) & (bucket == b) for label, b in wanted])
    return rows().filter(chosen).select("label", draw(seed)).collect(engine="streaming")


def cut_draws(sources: Sequence[Rows], cuts: dict[int, list[int]], seed: int,
              run: Run = _local) -> dict[int, list[int | None]]:
    """For each class and each cut rank r (rows before it: the r smallest
    draws), the draw at rank r, or None when r is the class's row count."""
    histogram = pl.concat(run(_histogram, [(rows, seed) for rows in sources])).group_by("label", "bucket") \
        .agg(pl.col("len").sum()).sort("label", "bucket")
    located: dict[tuple[int, int], tuple[int, int]] = {}  # (class, cut) -> (bucket, rank inside it)
    for (label,), part in histogram.group_by(["label"], maintain_order=True):
        buckets, counts = part["bucket"].to_numpy(), part["len"].to_numpy()
        ends = np.cumsum(counts)
        for r in cuts.get(int(label), []):
            if r < ends[-1]:
                i = int(np.searchsorted(ends, r, side="right"))
                located[(int(label), r)] = (int(buckets[i]), int(r - (ends[i - 1] if i else 0)))
    wanted = sorted({(label, bucket) for (label, _), (bucket, _) in located.items()})
    found = pl.concat(run(_bucket_draws, [(rows, seed, wanted) for rows in sources])) if wanted else None
    result: dict[int, list[int | None]] = {}
    for label, ranks in cuts.items():
        result[label] = []
        for r in ranks:
            if (label, r) not in located:
                result[label].append(None)
                continue
            bucket, inside = located[(label, r)]
            draws = np.sort(found.filter((pl.col("label") == label) & (_bucket(pl.col(DRAW)) == bucket))[DRAW]
                            .to_numpy())
            result[label].append(int(draws[inside]))
    return result


def side_by_cuts(thresholds: dict[int, list[int | None]], seed: int) -> pl.Expr:
    """0, 1, 2 …: how many of its class's cut draws a row's draw reaches."""
    depth = max((len(t) for t in thresholds.values()), default=0)
    side = pl.lit(0, pl.Int8)
    for i in range(depth):
        limits = {label: t[i] for label, t in thresholds.items() if len(t) > i and t[i] is not None}
        if not limits:
            continue
        limit = lookup("label", {label: pl.lit(t, pl.UInt64) for label, t in limits.items()}, pl.lit(None, pl.UInt64))
        side = side + (draw(seed) >= limit).fill_null(False).cast(pl.Int8)
    return side


# --- grouped ------------------------------------------------------------------------------


def _block(table_rows: int, blocks: int) -> pl.Expr:
    """A row's block: row_id * blocks // table_rows, so blocks are contiguous in file order."""
    return (pl.col("key") % (ROW_MASK + 1) * blocks // max(table_rows, 1)).clip(0, blocks - 1).cast(pl.Int32)


def block_counts(rows: Rows, table: int, table_rows: int, blocks: int = BLOCKS) -> pl.DataFrame:
    """One job: rows per (block, class) of one table."""
    return (rows().select(_block(table_rows, blocks).alias("block"), "label")
            .group_by("block", "label").len().collect(engine="streaming")
            .with_columns(pl.lit(table, pl.Int32).alias("table")))


def assign_grouped(counts: pl.DataFrame, seed: int, blocks: int = BLOCKS) -> dict[int, int | dict[int, int]]:
    """table → side (whole) or {block: side} (cut), from ``block_counts`` of every table.

    A capture stays whole and goes to one side, unless it holds a class that
    whole captures cannot bring to every side (found in fewer than three
    captures, or left off a side by the whole-capture assignment). Whole
    captures go, in random order, to the side furthest below its share of rows.
    """
    per_class = counts.group_by("label").agg(pl.col("table").n_unique().alias("n"))
    rare = set(per_class.filter(pl.col("n") < 3)["label"].to_list())
    labels = set(counts["label"].to_list())
    while True:
        cut = set(counts.filter(pl.col("label").is_in(sorted(rare)))["table"].unique().to_list())
        plan = _plan(counts, cut, seed, blocks)
        sides = counts.join(_plan_frame(plan, blocks), on=["table", "block"], how="left")
        missing = {int(c) for s in range(3) for c in labels - set(sides.filter(pl.col("side") == s)["label"])}
        if missing <= rare:
            return plan
        rare |= missing


def _plan_frame(plan: dict[int, int | dict[int, int]], blocks: int) -> pl.DataFrame:
    """The plan as rows (table, block, side)."""
    rows = [(table, b, entry if isinstance(entry, int) else entry[b])
            for table, entry in plan.items() for b in range(blocks)]
    return pl.DataFrame(rows, schema={"table": pl.Int32, "block": pl.Int32, "side": pl.Int8}, orient="row")


def _plan(counts: pl.DataFrame, cut: set[int], seed: int, blocks: int) -> dict[int, int | dict[int, int]]:
    rng = np.random.default_rng(seed)
    plan: dict[int, int | dict[int, int]] = {}
    whole: list[tuple[int, int]] = []
    sizes = counts.group_by("table").agg(pl.col("len").sum()).sort("table")
    for table, rows in sizes.iter_rows():
        if table in cut:
            train, val, test = assign_counts(blocks)
            order = np.repeat(np.array([0, 1, 2]), [train, val, test])
            rng.shuffle(order)
            plan[table] = {b: int(order[b]) for b in range(blocks)}
        else:
            whole.append((table, rows))
    whole = [whole[i] for i in rng.permutation(len(whole))]
    filled = np.zeros(3)
    target = np.array(FRACTIONS) * max(sum(rows for _, rows in whole), 1)
    for table, rows in whole:
        side = int(np.argmax((target - filled) / target))
        plan[table] = side
        filled[side] += rows
    return plan


@dataclass(frozen=True)
class SideRule:
    """How one table's rows find their side — data, so it travels to a cluster
    worker: one side for all (``constant``), the random draw's cut points per
    class (``thresholds``), or a side per block of rows (``blocks``, grouped)."""

    constant: int | None = None
    thresholds: dict[int, list[int | None]] | None = None
    seed: int = 0
    blocks: dict[int, int] | None = None
    table_rows: int = 0

    def expr(self) -> pl.Expr:
        if self.constant is not None:
            return pl.lit(self.constant, pl.Int8)
        if self.thresholds is not None:
            return side_by_cuts(self.thresholds, self.seed)
        assert self.blocks is not None
        return lookup(_block(self.table_rows, len(self.blocks)), self.blocks, pl.lit(None, pl.Int8)).cast(pl.Int8)


def grouped_rule(plan_entry: int | dict[int, int], table_rows: int) -> SideRule:
    """One table's rule under an ``assign_grouped`` plan."""
    if isinstance(plan_entry, int):
        return SideRule(constant=plan_entry)
    return SideRule(blocks=plan_entry, table_rows=table_rows)
