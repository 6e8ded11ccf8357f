"""Task tables: flow tables → one labelled table per task, deduplicated and split.

The work is done on a narrow *index* (one row per flow: its key, class, group
and a hash of its features) held in memory; the wide feature columns stay on
disk and are streamed once per split. So a build's memory grows with the
number of rows times a few dozen bytes, not with the number of columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from iotids.errors import IotidsError
from iotids.ingest import read_metadata
from iotids.labels import LABEL_MAP, TASKS, to_class
from iotids.schema import COMMON_CATEGORICAL, common_features, seed_features

TASK_SOURCES: dict[str, tuple[str, ...]] = {
    "iotds2": ("botiot", "iotid20", "iotds2", "mqtt", "iot23"),
    "iotid20": ("iotid20",),
}
# Of MQTT-IoT-IDS2020's three feature levels one enters a task, so that a
# flow is not counted three times: biflow, the level closest to a flow record.
TASK_FORMATS_SKIPPED = ("mqtt-packet", "mqtt-uniflow", "zeek-conn")

SPLITS = ("train", "val", "test")
FRACTIONS = (0.7, 0.1, 0.2)  # our assumption: the study does not state its split
ROW_BITS = 40  # key = table index << ROW_BITS | row_id
ROW_SPAN = 1 << ROW_BITS


@dataclass(frozen=True)
class FlowTable:
    path: Path
    index: int
    meta: dict

    @property
    def source(self) -> str:
        return self.meta["source"]

    @property
    def format(self) -> str:
        return self.meta["format"]


def class_names(task: str, binary: bool) -> tuple[str, ...]:
    return TASKS["binary"] if binary else TASKS[task]


def class_counts(rows: pl.DataFrame, names: Sequence[str]) -> dict[str, int]:
    """Rows per class name, in class-id order, from a frame with a ``label`` id column."""
    return {names[c]: int(n) for c, n in rows.group_by("label").len().sort("label").iter_rows()}


def find_flow_tables(flows_dir: str | Path, task: str) -> list[FlowTable]:
    """The flow tables under ``flows_dir`` that feed ``task``."""
    folder = Path(flows_dir)
    if not folder.is_dir():
        raise IotidsError(f"{folder}: not a directory of flow tables (make one with `iotids ingest`)")
    tables = []
    for path in sorted(folder.glob("*.parquet")):
        meta = read_metadata(path)
        if meta["source"] in TASK_SOURCES[task] and meta["format"] not in TASK_FORMATS_SKIPPED:
            tables.append(FlowTable(path, len(tables), meta))
    if not tables:
        raise IotidsError(
            f"{folder}: no flow tables of the {task} task's sources ({', '.join(TASK_SOURCES[task])}); "
            "ingest the dataset files first"
        )
    return tables


def class_table(source: str, task: str, binary: bool) -> pl.DataFrame:
    """label_raw (lower case) → class id for one source; labels outside the task left out."""
    names = class_names(task, binary)
    rows = []
    for raw in LABEL_MAP.get(source, {}):
        in_task = to_class(source, raw, task)
        if in_task is None:
            continue
        cls = to_class(source, raw, "binary") if binary else in_task
        rows.append((raw.casefold(), names.index(cls)))
    # "_class", not "label": IoT-23 has a native column called label.
    return pl.DataFrame(rows, schema={"_label_key": pl.String, "_class": pl.Int32}, orient="row")


def task_frame(table: FlowTable, task: str, binary: bool, schema: str) -> pl.LazyFrame:
    """One flow table as task rows: key, source, capture, label (class id), features."""
    lf = pl.scan_parquet(table.path)
    if schema == "common":
        features = common_features(table.format)
    else:
        names = seed_features(lf.collect_schema(), table.source, table.meta["label_columns"])
        features = [pl.col(name) for name in names]
    return (
        lf.with_columns(pl.col("label_raw").str.to_lowercase().alias("_label_key"))
        # Left order kept: rows in file order, so every build writes the same bytes.
        .join(class_table(table.source, task, binary).lazy(), on="_label_key", how="inner", maintain_order="left")
        .select(
            (pl.lit(table.index << ROW_BITS, pl.Int64) + pl.col("row_id")).alias("key"),
            "source", "capture", pl.col("_class").alias("label"), *features,
        )
    )


def feature_columns(frame: pl.LazyFrame) -> list[str]:
    return [c for c in frame.collect_schema().names() if c not in ("key", "source", "capture", "label")]


def index_part(table: FlowTable, task: str, binary: bool, schema: str) -> pl.DataFrame:
    """One job: the index rows of one flow table (key, label, a hash of the
    feature values), about 20 bytes a row."""
    frame = task_frame(table, task, binary, schema)
    features = feature_columns(frame)
    return (frame.select("key", "label", pl.struct(features).hash(seed=0).alias("hash"))
            .collect(engine="streaming"))


def build_index(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The index of every task row from the tables' ``index_part``s. The
    table (hence capture) of a row is ``key >> ROW_BITS``."""
    return pl.concat(parts).sort("key")


def with_split(frame: pl.LazyFrame, table: FlowTable, sides: np.ndarray, side: int) -> pl.LazyFrame:
    """The rows of ``frame`` (one flow table's task rows) on ``side`` of the split.

    ``sides`` holds the side of every row id of the table (-1: not in the
    task, or dropped as a duplicate); a gather, not a join, so it streams.
    """
    row_id = pl.col("key") - (table.index << ROW_BITS)
    return frame.filter(pl.lit(pl.Series(sides, dtype=pl.Int8)).gather(row_id) == side)


def write_sides(table: FlowTable, task: str, binary: bool, schema: str, sides: np.ndarray,
                folder: str) -> list[str]:
    """One job: the table's task rows on each side of the split, one Parquet
    file per side in ``folder`` (the parts ``iotids build`` merges); their paths."""
    frame = task_frame(table, task, binary, schema)
    paths = []
    for sid, side in enumerate(SPLITS):
        path = Path(folder) / f"{side}-{table.index:06d}.parquet"
        with_split(frame, table, sides, sid).sink_parquet(path)
        paths.append(str(path))
    return paths


def sides_per_table(index: pl.DataFrame, split: np.ndarray, sizes: dict[int, int]) -> dict[int, np.ndarray]:
    """Turn the split of the index rows into one array per table, indexed by row id."""
    out = {t: np.full(n, -1, dtype=np.int8) for t, n in sizes.items()}
    keys = index["key"].to_numpy()
    tables, rows = keys >> ROW_BITS, keys & (ROW_SPAN - 1)
    for t, array in out.items():
        mine = tables == t
        array[rows[mine]] = split[mine]
    return out


def table_sizes(index: pl.DataFrame) -> dict[int, int]:
    """Row-id range of each table's task rows (taken before deduplication)."""
    sizes = index.group_by((pl.col("key") // ROW_SPAN).alias("table")).agg((pl.col("key") % ROW_SPAN).max())
    return {int(t): int(n) + 1 for t, n in sizes.iter_rows()}


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


def deduplicate(index: pl.DataFrame, drop: bool) -> tuple[pl.DataFrame, Duplicates]:
    """Count exact duplicates (same features) and label conflicts; drop repeats if asked.

    Rows merged from different datasets are compared too: the seed schema fills
    absent columns with 0 at preprocessing, but here each source's own columns
    are hashed, so only rows of the same source and format can collide.
    """
    unique_rows = index.select(pl.struct("hash", "label").n_unique()).item()
    labels_per_hash = index.group_by("hash").agg(pl.col("label").n_unique().alias("n_labels"), pl.len())
    conflicting = labels_per_hash.filter(pl.col("n_labels") > 1)["len"].sum()
    kept = index.unique(subset=["hash", "label"], keep="first", maintain_order=True) if drop else index
    stats = Duplicates(index.height, index.height - unique_rows, int(conflicting or 0),
                       index.height - kept.height)
    return kept, stats


def split_random(index: pl.DataFrame, seed: int) -> np.ndarray:
    """Stratified random split (the study's way): per class 70/10/20."""
    rng = np.random.default_rng(seed)
    labels = index["label"].to_numpy()
    split = np.empty(len(labels), dtype=np.int8)
    for cls in np.unique(labels):
        rows = np.flatnonzero(labels == cls)
        rng.shuffle(rows)
        split[rows] = _assign(len(rows))
    return split


SOURCE_HOLDOUT = "source:"  # a holdout naming a whole source dataset, e.g. "source:botiot"


def split_holdout(index: pl.DataFrame, tables: list[FlowTable], holdout: str, seed: int) -> np.ndarray:
    """Leave one capture (or, as ``source:NAME``, one source dataset) out: its
    rows are the test split; the other rows are split train/val per class in
    the study's 70:10 proportion."""
    if holdout.startswith(SOURCE_HOLDOUT):
        source = holdout.removeprefix(SOURCE_HOLDOUT)
        held = {t.index for t in tables if t.source == source}
        what, known = "source", sorted({t.source for t in tables})
    else:
        held = {t.index for t in tables if t.meta["capture"] == holdout}
        what, known = "capture", sorted({t.meta["capture"] for t in tables})
    if not held:
        name = holdout.removeprefix(SOURCE_HOLDOUT)
        raise IotidsError(f"no flow table of {what} {name!r}; {what}s: {', '.join(known)}")
    if len(held) == len(tables):
        raise IotidsError(f"holding out {holdout!r} leaves no rows to train on")
    in_test = np.isin(index["key"].to_numpy() >> ROW_BITS, sorted(held))
    rng = np.random.default_rng(seed)
    labels = index["label"].to_numpy()
    split = np.full(len(labels), 2, dtype=np.int8)
    share = FRACTIONS[1] / (FRACTIONS[0] + FRACTIONS[1])
    for cls in np.unique(labels[~in_test]):
        rows = np.flatnonzero((labels == cls) & ~in_test)
        rng.shuffle(rows)
        n_val = round(len(rows) * share) if len(rows) >= 2 else 0
        split[rows] = np.repeat(np.array([0, 1], dtype=np.int8), [len(rows) - n_val, n_val])
    return split


def split_test_only(index: pl.DataFrame) -> np.ndarray:
    """Every row is test: new data scored with another task's preprocessing (``--like``)."""
    return np.full(index.height, 2, dtype=np.int8)


def _assign(n: int) -> np.ndarray:
    """Split ids for n shuffled items: each side gets its share, rounded, and
    val and test get at least one item each when there are three or more."""
    n_test = max(round(n * FRACTIONS[2]), 1 if n >= 3 else 0)
    n_val = max(round(n * FRACTIONS[1]), 1 if n >= 3 else 0)
    n_train = n - n_test - n_val
    return np.repeat(np.array([0, 1, 2], dtype=np.int8), [n_train, n_val, n_test])


def split_grouped(index: pl.DataFrame, seed: int, blocks: int = 10) -> np.ndarray:
    """The honest split: no capture, or no time block of one, on two sides.

    A capture stays whole and goes to one side, unless it holds a class that
    whole captures cannot bring to every side (found in fewer than three
    captures, or left off a side by the whole-capture assignment): such a
    capture is cut into ``blocks`` contiguous blocks of rows (file order,
    i.e. time for flow logs) and its blocks are spread over the sides
    70/10/20, each block wholly on one side. Whole captures go, in random
    order, to the side furthest below its share of rows.
    """
    # A group is one flow table, i.e. one capture file; keys are in file order.
    frame = index.select((pl.col("key") // ROW_SPAN).alias("group"), "label").with_row_index("_i")
    per_class = frame.group_by("label").agg(pl.col("group").n_unique().alias("n"))
    rare = set(per_class.filter(pl.col("n") < 3)["label"].to_list())
    while True:
        cut = set(frame.filter(pl.col("label").is_in(sorted(rare)))["group"].unique().to_list())
        split = _assign_groups(frame, cut, seed, blocks)
        labels = frame["label"].to_numpy()
        missing = {int(c) for side in range(3) for c in set(np.unique(labels)) - set(np.unique(labels[split == side]))}
        if missing <= rare:
            return split
        rare |= missing


def _assign_groups(frame: pl.DataFrame, cut: set[int], seed: int, blocks: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    split = np.empty(frame.height, dtype=np.int8)
    whole: list[tuple[int, np.ndarray]] = []
    for (group,), part in frame.group_by(["group"], maintain_order=True):
        rows = part["_i"].to_numpy()
        if group in cut:
            sides = _assign(blocks)
            rng.shuffle(sides)
            split[rows] = sides[np.arange(len(rows)) * blocks // len(rows)]
        else:
            whole.append((group, rows))
    whole = [whole[i] for i in rng.permutation(len(whole))]
    filled = np.zeros(3)
    target = np.array(FRACTIONS) * max(sum(len(rows) for _, rows in whole), 1)
    for _, rows in whole:
        side = int(np.argmax((target - filled) / target))
        split[rows] = side
        filled[side] += len(rows)
    return split


def unplaced_classes(index: pl.DataFrame, split: np.ndarray, names: tuple[str, ...]) -> dict[str, list[str]]:
    """Classes missing from a side of the split: {split: [class, …]}."""
    labels = index["label"].to_numpy()
    everywhere = set(np.unique(labels))
    missing = {}
    for sid, side in enumerate(SPLITS):
        absent = [names[c] for c in sorted(everywhere - set(np.unique(labels[split == sid])))]
        if absent:
            missing[side] = absent
    return missing


def categorical_columns(frame: pl.LazyFrame) -> list[str]:
    schema = frame.collect_schema()
    return [c for c in feature_columns(frame) if schema[c] == pl.String or c in COMMON_CATEGORICAL]
