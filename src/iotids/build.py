"""``iotids build``: flow tables → a task directory holding everything training needs.

DIR/
  split/{train,val,test}.parquet   task rows before preprocessing (all features)
  {train,val,test}.parquet         model inputs: source, capture, label, the k features
  preprocessor.json                fitted on split/train.parquet only
  manifest.json                    task, schema, split, seed, classes, features, counts, duplicates

The preprocessor and the feature ranking see train rows only: val and test
are written before either is fitted and read only to be transformed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from iotids import __version__
from iotids.atomic import atomic_path, scratch_dir, sweep, write_json
from iotids.cluster import Jobs
from iotids.dataset import (
    SPLITS,
    FlowTable,
    TaskRows,
    class_counts,
    class_names,
    find_flow_tables,
    held_out_tables,
    unplaced_classes,
    write_sides,
)
from iotids.duplicates import find_duplicates
from iotids.errors import IotidsError
from iotids.features import MAX_PAD, Preprocessor, rank_features, selected_features
from iotids.schema import lookup
from iotids.split import (
    FRACTIONS,
    SideRule,
    assign_counts,
    assign_grouped,
    block_counts,
    cut_draws,
    draw,
    grouped_rule,
    train_val_counts,
)

MANIFEST_VERSION = 1
RFE_SAMPLE = 20_000  # train rows (stratified) the feature ranking sees
# Row groups of the model-input tables: the unit out-of-core training reads,
# shuffles and shards across DDP ranks (64 float features: ~16 MB a group).
ROW_GROUP_ROWS = 65_536


@dataclass(frozen=True)
class BuildOptions:
    task: str = "iotds2"
    binary: bool = False
    schema: str | None = "seed"  # None: the --like task's or bundle's schema (seed without one)
    split: str = "random"
    dedup: bool = False
    seed: int = 0
    k: int = 64
    like: str | None = None  # a task or bundle directory whose preprocessor and features are reused
    holdout: str | None = None  # with split "holdout": the capture that is the test split


def build(flows_dir: str | Path, out_dir: str | Path, options: BuildOptions,
          progress: Callable[[str], None] = lambda step: None, *, scheduler: str | None = None) -> dict:
    """Build the task directory; return its manifest (also written as manifest.json).

    The per-table work (hashing rows for duplicates, counting rows, drawing
    the split's cut points, writing each table's rows of each split) runs here
    one table at a time, or as tasks on the Dask cluster whose ``scheduler``
    address is given: the same functions, so the same files. Nothing held in
    memory grows with the rows (iotids.split, iotids.duplicates).
    """
    if options.k < 1:
        raise IotidsError(f"--k must be at least 1, got {options.k}")
    options = replace(options, schema=_schema(options))
    out = Path(out_dir)
    names = class_names(options.task, options.binary)
    progress("reading flow tables")
    # Absolute paths: a Dask worker's working directory is not ours.
    tables = [replace(t, path=t.path.absolute()) for t in find_flow_tables(flows_dir, options.task)]
    held = _held_out(tables, options)  # checked before any pass over the rows
    raw = out / "split"
    with Jobs(scheduler) as runner:
        runner.check_shared(out, [t.path for t in tables])
        sources = [TaskRows(t, options.task, options.binary, options.schema) for t in tables]
        progress("finding duplicates")
        raw.mkdir(parents=True, exist_ok=True)
        sweep(raw)
        with scratch_dir(raw, "duplicates") as work:
            duplicates, keep = find_duplicates(sources, {t.index: t.rows for t in tables}, work / "hashes",
                                               options.dedup, runner.map)
        sources = [replace(rows, keep=keep.get(rows.table.index)) for rows in sources]
        progress("counting rows")
        blocks = pl.concat(runner.map(block_counts, [(rows, rows.table.index, rows.table.rows) for rows in sources],
                                      on_done=_counter("counting rows", tables, progress)))
        if blocks.height == 0:
            raise IotidsError(f"{flows_dir}: none of the {options.task} task's classes occur in its flow tables")
        progress(f"splitting ({options.split})")
        rules = _rules(blocks, sources, held, options, runner)
        placed = sorted(set(blocks["table"].to_list()))
        _write_splits(runner, [(sources[t], rules[t]) for t in placed], raw, progress)
    counts = {side: class_counts(pl.scan_parquet(raw / f"{side}.parquet"), names) for side in SPLITS}
    warnings = [f"{side}: no rows of {', '.join(classes)}" for side, classes in unplaced_classes(counts).items()
                if options.split != "test" or side == "test"]

    if options.like is None:
        progress("fitting the preprocessor on train")
        train = pl.scan_parquet(raw / "train.parquet")
        preprocessor = Preprocessor().fit(train)
        progress("ranking features (RFE)")
        kept, padding, ranking, rfe = _select(preprocessor, train, counts["train"], names, options)
    else:
        progress(f"reusing the preprocessor and features of {options.like}")
        preprocessor, features = reused_preprocessing(options.like)
        kept = [f for f in features if f in preprocessor.features_]
        padding = [f for f in features if f not in preprocessor.features_]
        ranking, rfe = {}, {"reused_from": str(Path(options.like).resolve())}
    preprocessor.save(out / "preprocessor.json")
    if padding and options.like is None:
        warnings.append(f"only {len(kept)} features exist: padded with {len(padding)} zero columns to k={options.k}")

    progress("writing model inputs")
    for side in SPLITS:
        rows = pl.scan_parquet(raw / f"{side}.parquet")
        frame = preprocessor.model_inputs(rows, kept + padding,
                                          keep=("source", "capture", pl.col("label").cast(pl.Int32)))
        with atomic_path(out / f"{side}.parquet") as tmp:
            frame.sink_parquet(tmp, row_group_size=ROW_GROUP_ROWS)
    unseen = sorted(set(counts["test"]) - set(counts["train"]))
    if unseen and options.split != "test":
        warnings.append(f"test holds classes unseen in train: {', '.join(unseen)}")

    manifest = {
        "format_version": MANIFEST_VERSION,
        "iotids_version": __version__,
        "task": options.task,
        "binary": options.binary,
        "schema": options.schema,
        "split": options.split,
        "holdout": options.holdout,
        "split_fractions": dict(zip(SPLITS, FRACTIONS, strict=True)),
        "seed": options.seed,
        "dedup": options.dedup,
        "k": len(kept) + len(padding),
        "like": options.like,
        "classes": list(names),
        "features": kept + padding,
        "padding": padding,
        "ranking": ranking,
        "rfe": rfe,
        "class_counts": counts,
        "rows": {side: sum(c.values()) for side, c in counts.items()},
        "duplicates": duplicates.to_json(),
        "inputs": [{"table": t.path.name, **{k: t.meta[k] for k in ("format", "source", "capture", "synthetic")},
                    "sha256": t.meta["input"]["sha256"]} for t in tables],
        "synthetic": any(t.meta["synthetic"] for t in tables),
        "warnings": warnings,
    }
    write_json(out / "manifest.json", manifest)
    return manifest


def _held_out(tables: list[FlowTable], options: BuildOptions) -> set[int]:
    """The tables that are the test split (--split holdout; all of them for --split test), after checking
    the options that need no pass over the rows."""
    if options.split == "test":
        if options.like is None:
            raise IotidsError("--split test makes every row test data: it needs --like TASK_OR_BUNDLE for the "
                              "preprocessing and features")
        return {t.index for t in tables}
    if options.split == "holdout":
        if not options.holdout:
            raise IotidsError("--split holdout needs --holdout CAPTURE")
        return held_out_tables(tables, options.holdout)
    return set()


def _rules(blocks: pl.DataFrame, sources: list[TaskRows], held: set[int], options: BuildOptions,
           runner: Jobs) -> dict[int, SideRule]:
    """The side rule of every table (by index) that has task rows, from the rows per (table, block, class)."""
    present = sorted(set(blocks["table"].to_list()))
    if options.split == "test":
        return dict.fromkeys(present, SideRule(constant=2))
    if options.split == "grouped":
        plan = assign_grouped(blocks, options.seed)
        return {t: grouped_rule(plan[t], sources[t].table.rows) for t in present}
    drawn = [t for t in present if t not in held]
    if not drawn:
        raise IotidsError(f"holding out {options.holdout!r} leaves no rows to train on")
    per_class = blocks.filter(pl.col("table").is_in(drawn)).group_by("label").agg(pl.col("len").sum())
    cuts = {}
    for label, n in per_class.iter_rows():
        if held:  # train and val only: the held-out tables are the test split
            cuts[label] = [train_val_counts(n)[0]]
        else:
            train, val, _ = assign_counts(n)
            cuts[label] = [train, train + val]
    rule = SideRule(thresholds=cut_draws([sources[t] for t in drawn], cuts, options.seed, runner.map),
                    seed=options.seed)
    return {t: SideRule(constant=2) if t in held else rule for t in present}


def _write_splits(runner: Jobs, jobs: list[tuple[TaskRows, SideRule]], raw: Path,
                  progress: Callable[[str], None]) -> None:
    """split/{train,val,test}.parquet: each table's rows of each side written
    as a part (one job per table), then the parts merged in table order.

    Here and on a cluster the same parts and the same merge: the split files
    are byte-identical whichever ran the jobs.
    """
    with scratch_dir(raw, "split") as scratch:
        parts = runner.map(write_sides, [(rows, rule, str(scratch)) for rows, rule in jobs],
                           on_done=_counter("writing splits", [rows.table for rows, _ in jobs], progress))
        progress("merging splits")
        for sid, side in enumerate(SPLITS):
            rows = pl.concat([pl.scan_parquet(paths[sid]) for paths in parts], how="diagonal_relaxed")
            with atomic_path(raw / f"{side}.parquet") as tmp:
                # A fixed row-group size: left to Polars, it follows thread timing.
                rows.sink_parquet(tmp, row_group_size=ROW_GROUP_ROWS)


def _counter(step: str, tables: list[FlowTable], progress: Callable[[str], None]) -> Callable[[int, object], None]:
    """An on_done callback that reports ``step (done/total tables)``."""
    done = 0
    progress(f"{step} (0/{len(tables)} tables)")

    def one(i: int, result: object) -> None:
        nonlocal done
        done += 1
        progress(f"{step} ({done}/{len(tables)} tables)")

    return one


def _select(preprocessor: Preprocessor, train: pl.LazyFrame, train_counts: dict[str, int],
            names: tuple[str, ...], options: BuildOptions) -> tuple[list[str], list[str], dict[str, int], dict]:
    """RFE on a stratified train sample: (kept, padding, ranking, what RFE saw)."""
    # A filter keeps file order: the forest sees the same rows in the same order on every run.
    chosen = train.filter(_stratified_sample(train_counts, names, RFE_SAMPLE, options.seed))
    sample = preprocessor.transform(chosen).collect(engine="streaming")
    features = preprocessor.features_
    if len(features) < options.k and options.k > MAX_PAD:
        raise IotidsError(f"--k {options.k}: only {len(features)} features exist and zero padding "
                          f"goes up to {MAX_PAD} only")
    started = time.perf_counter()
    ranking = rank_features(sample.select(features).to_numpy(), sample["label"].to_numpy(),
                            features, options.k, options.seed)
    kept, padding = selected_features(ranking, options.k)
    rfe = {"sample_rows": sample.height, "candidates": len(features),
           "seconds": round(time.perf_counter() - started, 2)}
    return kept, padding, ranking, rfe


def _schema(options: BuildOptions) -> str:
    """The schema to build: the one asked for, which must be the --like one's when reusing its preprocessing."""
    if options.like is None:
        return options.schema or "seed"
    folder = Path(options.like)
    meta = folder / "manifest.json" if (folder / "manifest.json").is_file() else folder / "bundle.json"
    try:
        document = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise IotidsError(f"{folder}: --like needs a task directory (manifest.json) "
                          "or a bundle (bundle.json)") from None
    reused = document.get("schema") if meta.name == "manifest.json" else (document.get("task") or {}).get("schema")
    reused = reused or "seed"
    if options.schema not in (None, reused):
        raise IotidsError(f"--schema {options.schema}: {folder} was built with the {reused} schema, and its "
                          f"preprocessing expects {reused} features; leave --schema out or pass {reused}")
    return reused


def reused_preprocessing(like: str | Path) -> tuple[Preprocessor, list[str]]:
    """The preprocessor and feature list of a task directory or a bundle."""
    folder = Path(like)
    if (folder / "bundle.json").is_file():
        from iotids.bundle import load_bundle

        bundle = load_bundle(folder)
        return bundle.preprocessor, bundle.features
    if (folder / "manifest.json").is_file():
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        return Preprocessor.load(folder / "preprocessor.json"), list(manifest["features"])
    raise IotidsError(f"{folder}: --like needs a task directory (manifest.json) or a bundle (bundle.json)")


def _stratified_sample(counts: dict[str, int], names: tuple[str, ...], size: int, seed: int) -> pl.Expr:
    """Which train rows RFE sees: about ``size``, every class equally entitled
    (a class smaller than its share comes whole). Each row of class c is taken
    when its random draw (iotids.split, another seed than the split's) falls
    below share / rows of c, so the sample is drawn in one streaming pass."""
    total = sum(counts.values())
    if total <= size:
        return pl.lit(True)
    share = max(size // max(len(counts), 1), 1)
    limits = {names.index(name): (share << 64) // n for name, n in counts.items() if share < n}
    if not limits:
        return pl.lit(True)
    limit = lookup("label", {label: pl.lit(n, pl.UInt64) for label, n in limits.items()}, pl.lit(None, pl.UInt64))
    return (draw(seed + 1) < limit).fill_null(True)
