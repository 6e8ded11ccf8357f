"""The ``iotids`` command line: parses arguments, calls the library, renders.

Only this module prints. Errors the user can fix end as one line on stderr
and exit code 2.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from iotids import __version__
from iotids.errors import IotidsError
from iotids.labels import IOTDS2_CLASSES, class_counts, mapping_rows

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Deep-learning intrusion detection for IoT network traffic.",
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

def _synthetic_note(what: str) -> str:
    return f"[yellow]SYNTHETIC DATA[/]: {what} generated sample files, not a real dataset."


def _version(value: bool) -> None:
    if value:
        out.print(f"iotids {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Deep-learning intrusion detection for IoT network traffic."""


@app.command()
def ingest(
    inputs: Annotated[list[Path], typer.Argument(help="Dataset files or directories (recursive).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the flow-table Parquet files.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document instead.")] = False,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Files read in parallel [default: cores/4, at least 1].")
    ] = None,
    scheduler: Annotated[str | None, typer.Option(
        metavar="ADDRESS", help="Read the files on the Dask cluster of this scheduler (tcp://host:8786), "
                                "whose workers see the same paths (docs/distributed.md); same outputs.")] = None,
) -> None:
    """Read native dataset files into flow tables (one Parquet file per input)."""
    from iotids.ingest import default_workers
    from iotids.ingest import ingest as run_ingest

    progress = Progress(
        TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
        TextColumn("{task.fields[rows]:,} rows"), TimeElapsedColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    )
    task = progress.add_task("ingest", total=None, rows=0)

    def started(layouts: list) -> None:
        progress.update(task, total=len(layouts))

    def finished(done) -> None:
        progress.update(task, advance=1, rows=progress.tasks[0].fields["rows"] + done.rows)

    with progress:
        report = run_ingest(inputs, out_dir, workers=workers or default_workers(), scheduler=scheduler,
                            on_start=started, on_file=finished)
    if json_output:
        out.print_json(json.dumps(report.to_json()))
        return
    table = Table(title=f"Ingested into {out_dir}", title_justify="left")
    for column in ("file", "format", "rows", "labels (as written)"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for f in report.files:
        shown = ", ".join(f"{label} {n:,}" for label, n in list(f.labels.items())[:6])
        more = len(f.labels) - 6
        shown += f", … {more} more" if more > 0 else ""
        table.add_row(f.path, f.format, f"{f.rows:,}", shown or "[dim]unlabelled[/]")
    out.print(table)
    if report.skipped:
        out.print(f"[dim]skipped {len(report.skipped)} file(s) that are not dataset files:[/]")
        for s in report.skipped:
            out.print(f"[dim]  {s.path}: {s.reason}[/]")
    _print_class_counts(report.files)


def _print_class_counts(files: list) -> None:
    totals: Counter[str] = Counter()
    for f in files:
        totals.update(class_counts(f.source, f.labels))
    if not totals:
        return
    table = Table(title="IoT-DS-2 classes (labels mapped as in `iotids labels`)", title_justify="left")
    table.add_column("id", justify="right")
    table.add_column("class")
    table.add_column("rows", justify="right")
    for index, name in enumerate(IOTDS2_CLASSES):
        table.add_row(str(index), name, f"{totals[name]:,}" if totals[name] else "[dim]0[/]")
    out.print(table)
    if any(f.synthetic for f in files):
        out.print(_synthetic_note("counts of"))


class Task(StrEnum):
    iotds2 = "iotds2"
    iotid20 = "iotid20"


class Schema(StrEnum):
    seed = "seed"
    common = "common"


class Split(StrEnum):
    random = "random"
    grouped = "grouped"
    holdout = "holdout"
    test = "test"


@app.command("build")
def build_task(
    flows_dir: Annotated[Path, typer.Argument(help="Directory of flow tables from `iotids ingest`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Task directory to write.")],
    task: Annotated[Task, typer.Option(help="IoT-DS-2 (17 classes) or IoTID20 (5 classes).")] = Task.iotds2,
    binary: Annotated[bool, typer.Option("--binary", help="Normal vs Anomaly instead of the classes.")] = False,
    schema: Annotated[Schema | None, typer.Option(help="seed: every native column (the study); common: features "
                                                       "any flow meter gives [default: seed, or the --like "
                                                       "task's].")] = None,
    split: Annotated[Split, typer.Option(help="random: stratified, as in the study; "
                                              "grouped: no capture (or time block) on two sides; "
                                              "holdout: --holdout CAPTURE is the test split; "
                                              "test: every row is test (with --like, to score new data).")]
    = Split.random,
    holdout: Annotated[str | None, typer.Option(help="With --split holdout: the capture left out for testing, "
                                                     "or source:NAME for a whole source dataset.")]
    = None,
    dedup: Annotated[bool, typer.Option("--dedup/--no-dedup", help="Drop duplicate rows before splitting.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed (split, RFE).")] = 0,
    k: Annotated[int, typer.Option("--k", min=1, help="Features kept by RFE (zero-padded up to 64).")] = 64,
    like: Annotated[Path | None, typer.Option(help="Reuse the preprocessor and features of this task or "
                                                  "bundle directory (no refit; for transfer learning).")]
    = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON instead.")] = False,
    scheduler: Annotated[str | None, typer.Option(
        metavar="ADDRESS", help="Index and split the tables on the Dask cluster of this scheduler "
                                "(tcp://host:8786), whose workers see the same paths (docs/distributed.md); "
                                "same outputs.")] = None,
) -> None:
    """Build a task directory: split, preprocessor, RFE-selected features, model inputs."""
    from iotids.build import BuildOptions, build

    options = BuildOptions(task=task.value, binary=binary, schema=schema.value if schema else None, split=split.value,
                           dedup=dedup, seed=seed, k=k, like=str(like) if like else None, holdout=holdout)
    with err.status("building") as status:
        manifest = build(flows_dir, out_dir, options, scheduler=scheduler,
                         progress=lambda step: status.update(f"build: {step}") if err.is_terminal else None)
    for warning in manifest["warnings"]:
        err.print(f"[yellow]warning:[/] {warning}")
    if json_output:
        out.print_json(json.dumps(manifest))
        return
    what = f"{options.task}{' binary' if binary else ''}, schema {manifest['schema']}, split {options.split}"
    table = Table(title=f"Task {what} → {out_dir}", title_justify="left")
    table.add_column("class")
    for side in ("train", "val", "test"):
        table.add_column(side, justify="right")
    for name in manifest["classes"]:
        table.add_row(name, *(f"{manifest['class_counts'][s].get(name, 0):,}" for s in ("train", "val", "test")))
    out.print(table)
    d = manifest["duplicates"]
    out.print(f"rows {d['rows']:,}; exact duplicates {d['duplicate_rows']:,} ({d['duplicate_rate']:.1%}); "
              f"rows with identical features but different labels {d['conflicting_rows']:,}; "
              f"dropped {d['dropped']:,}")
    rfe = manifest["rfe"]
    chosen = len(manifest["features"]) - len(manifest["padding"])
    how = (f"reused from {rfe['reused_from']}" if "reused_from" in rfe else
           f"selected of {rfe['candidates']} by RFE on {rfe['sample_rows']:,} train rows")
    out.print(f"features: {chosen} {how}, {len(manifest['padding'])} zero padding")
    if manifest["synthetic"]:
        out.print(_synthetic_note("built from"))


class Model(StrEnum):
    cnn1d = "cnn1d"
    cnn2d = "cnn2d"
    cnn3d = "cnn3d"


# Options train and transfer share.
Epochs = Annotated[int, typer.Option(min=1, help="Most epochs (early stopping may end sooner).")]
BatchSize = Annotated[int, typer.Option(min=1, help="Rows per step.")]
Seed = Annotated[int, typer.Option(help="Random seed.")]
ClassWeights = Annotated[bool, typer.Option("--class-weights", help="Weight the loss by inverse class frequency.")]
Patience = Annotated[int, typer.Option(min=1, help="Epochs without a better val macro-F1 before stopping.")]
Precision = Annotated[str, typer.Option(help="auto: bfloat16 autocast where the CPU/GPU has native bf16, "
                                             "else fp32; or fp32, bf16.")]
Loss = Annotated[str, typer.Option(help="ce (cross-entropy) or focal (focal loss, gamma 2; for rare classes).")]
Sampling = Annotated[str, typer.Option(help="shuffle (each row once per epoch) or balanced (classes drawn "
                                            "equally often).")]
TuneThresholds = Annotated[bool, typer.Option("--tune-thresholds", help="Calibrate probabilities and choose "
                                                                        "per-class thresholds on val.")]
MemoryBudget = Annotated[str | None, typer.Option(
    help="Memory for the train and val rows, e.g. 4G; above it they stream from Parquet row groups through a "
         "shuffle buffer (out-of-core). Default: half the memory available at start.")]


@app.command("train")
def train_model(
    task_dir: Annotated[Path, typer.Argument(help="Task directory from `iotids build`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Bundle directory to write.")],
    model: Annotated[Model, typer.Option(help="Architecture.")] = Model.cnn1d,
    epochs: Epochs = 30,
    batch_size: BatchSize = 1024,
    seed: Seed = 0,
    class_weights: ClassWeights = False,
    patience: Patience = 5,
    precision: Precision = "auto",
    loss: Loss = "ce",
    sampling: Sampling = "shuffle",
    tune_thresholds: TuneThresholds = False,
    memory_budget: MemoryBudget = None,
    compile_model: Annotated[bool, typer.Option("--compile", help="torch.compile the model (about 30 s to "
                                                                  "start, faster epochs; eager if it fails).")]
    = False,
) -> None:
    """Train CNN1D/2D/3D on a task (resumes an interrupted run in the same --out)."""
    from iotids.train import TrainConfig

    _run_training(task_dir, out_dir, TrainConfig(
        model=model.value, epochs=epochs, batch_size=batch_size, seed=seed, class_weights=class_weights,
        patience=patience, precision=precision, compile=compile_model, loss=loss, sampling=sampling,
        tune_thresholds=tune_thresholds, memory_budget=_size(memory_budget)))


@app.command("transfer")
def transfer(
    bundle_dir: Annotated[Path, typer.Argument(help="Source bundle (the IoT-DS-2 multiclass model).")],
    task_dir: Annotated[Path, typer.Argument(help="Target task, built with `--like BUNDLE_DIR`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Bundle directory to write.")],
    freeze: Annotated[bool, typer.Option("--freeze/--no-freeze", help="Train the new head only, or "
                                                                      "fine-tune everything.")] = True,
    epochs: Epochs = 30,
    batch_size: BatchSize = 1024,
    seed: Seed = 0,
    class_weights: ClassWeights = False,
    patience: Patience = 5,
    precision: Precision = "auto",
    loss: Loss = "ce",
    sampling: Sampling = "shuffle",
    tune_thresholds: TuneThresholds = False,
    memory_budget: MemoryBudget = None,
) -> None:
    """Transfer learning: the source model without its output layer, two new dense layers, fine-tuned."""
    import json as json_module

    from iotids.bundle import META
    from iotids.train import TrainConfig

    try:
        name = json_module.loads((bundle_dir / META).read_text())["architecture"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        raise IotidsError(f"{bundle_dir}: not a readable bundle (bundle.json)") from None
    _run_training(task_dir, out_dir, TrainConfig(
        model=str(name), epochs=epochs, batch_size=batch_size, seed=seed, class_weights=class_weights,
        patience=patience, precision=precision, transfer_from=str(bundle_dir), freeze=freeze, loss=loss,
        sampling=sampling, tune_thresholds=tune_thresholds, memory_budget=_size(memory_budget)))


def _size(text: str | None) -> int | None:
    from iotids.stream import parse_size

    return None if text is None else parse_size(text)


def _run_training(task_dir: Path, out_dir: Path, config) -> None:
    from iotids.train import train

    model_name = config.model
    quiet = int(os.environ.get("RANK", "0")) != 0  # under torchrun only rank 0 reports
    progress = Progress(
        TextColumn(f"[bold]train {model_name}"), BarColumn(), MofNCompleteColumn(), TextColumn("epochs"),
        TextColumn("loss {task.fields[loss]:.4f}  val macro-F1 {task.fields[f1]:.4f}"), TimeElapsedColumn(),
        console=err, transient=False, disable=quiet or not err.is_terminal,
    )
    task = progress.add_task("train", total=config.epochs, loss=float("nan"), f1=float("nan"))

    def epoch_done(report) -> None:
        progress.update(task, completed=report.epoch, loss=report.loss, f1=report.val_macro_f1)

    with progress:
        meta = train(task_dir, out_dir, config, on_epoch=epoch_done)
    if quiet:
        return
    t = meta["training"]
    parent = " (transferred)" if meta["parent"] else ""
    out.print(f"{model_name}{parent}: best val macro-F1 {meta['metrics']['val']['macro_f1']:.4f} at epoch "
              f"{t['best_epoch']} of {t['epochs_run']} ({t['seconds']:.1f} s, {t['rows']:,} train rows, "
              f"{t['autocast']}) → {out_dir}")
    data = t.get("data") or {}
    if data.get("mode") == "stream":
        out.print(f"streamed from {data['row_groups']} row groups through a shuffle buffer of "
                  f"{data['shuffle_buffer_rows']:,} rows: train+val need {data['bytes_needed_in_memory'] / 2**30:.2f} "
                  f"GiB as tensors, the memory budget is {data['memory_budget'] / 2**30:.2f} GiB")
    if meta["decision"]:
        d = meta["decision"]
        out.print(f"thresholds tuned on val: macro-F1 {d['val_macro_f1_before']:.4f} → {d['val_macro_f1_after']:.4f} "
                  f"(temperature {d['temperature']:.2f})")
    if meta["task"].get("synthetic"):
        out.print(_synthetic_note("trained on"))


@app.command("evaluate")
def evaluate_model(
    bundle_dir: Annotated[Path, typer.Argument(help="Bundle directory from `iotids train`.")],
    task_dir: Annotated[Path, typer.Argument(help="Task directory with the bundle's features.")],
    split: Annotated[str, typer.Option(help="Split to score: train, val or test.")] = "test",
    png: Annotated[Path | None, typer.Option(help="Confusion matrix PNG [default: BUNDLE/confusion-SPLIT.png].")]
    = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the tables as JSON instead.")] = False,
) -> None:
    """The study's tables for a bundle on a task split."""
    from iotids.evaluate import confusion_png, evaluate_bundle

    _check_split(split)
    result = evaluate_bundle(bundle_dir, task_dir, split)
    image = confusion_png(result, png or Path(bundle_dir) / f"confusion-{split}.png",
                          f"{result['model']} on {task_dir} ({split})")
    result["confusion_png"] = str(image)
    _show_evaluation(result, json_output, f"{result['model']} on {task_dir}, split {split}")


@app.command("baseline")
def baseline(
    task_dir: Annotated[Path, typer.Argument(help="Task directory from `iotids build`.")],
    split: Annotated[str, typer.Option(help="Split to score: train, val or test.")] = "test",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Save the model (LightGBM text) here.")] = None,
    test_task: Annotated[Path | None, typer.Option(help="Score this task's split instead (built --like TASK_DIR, "
                                                        "e.g. new data with --split test).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the tables as JSON instead.")] = False,
) -> None:
    """LightGBM on the same features, early-stopped on val, with the same tables."""
    from iotids.baseline import run_baseline

    _check_split(split)
    result = run_baseline(task_dir, split, seed=seed, out=out_dir, test_task=test_task)
    scored = f"{test_task or task_dir}, split {split}"
    _show_evaluation(result, json_output, f"LightGBM trained on {task_dir}, scored on {scored} "
                                          f"({result['rounds']} rounds, {result['train_seconds']} s to train)")


@app.command()
def reproduce(
    data_dir: Annotated[Path, typer.Argument(help="Dataset files (searched recursively).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for every stage's output and the report.")],
    config_file: Annotated[Path | None, typer.Option("--config", help="TOML settings ([study] table; see "
                                                                      "configs/study.toml).")] = None,
    models: Annotated[str | None, typer.Option(help="Comma-separated: cnn1d,cnn2d,cnn3d.")] = None,
    split: Annotated[Split | None, typer.Option(help="random (the study) or grouped.")] = None,
    schema: Annotated[Schema | None, typer.Option(help="seed (the study) or common.")] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Most epochs per training.")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Rows per training step.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    weak_classes: Annotated[str | None, typer.Option(help="Also train the first model with these rare-class "
                                                          "variants and compare per class: comma-separated "
                                                          "class-weights,focal,balanced,thresholds.")] = None,
    leave_one_capture_out: Annotated[bool, typer.Option("--leave-one-capture-out", help="Also test the first "
                                                        "model and LightGBM on each IoT-23 capture held out in "
                                                        "turn (same as --protocol leave-one-capture-out).")]
    = False,
    protocol: Annotated[str | None, typer.Option(help="Evaluation protocols shown beside the study's, comma-"
                                                      "separated: study, grouped, leave-one-capture-out, "
                                                      "leave-one-dataset-out (each trains the first model and "
                                                      "LightGBM).")] = None,
) -> None:
    """The whole study: ingest, build, train, evaluate, transfer ×3, baseline, report."""
    from dataclasses import replace

    from iotids.reproduce import StudyConfig, load_config
    from iotids.reproduce import reproduce as run

    config = load_config(config_file) if config_file else StudyConfig()
    overrides = {"models": tuple(m.strip() for m in models.split(",") if m.strip()) if models else None,
                 "split": split.value if split else None, "schema": schema.value if schema else None,
                 "epochs": epochs, "batch_size": batch_size, "seed": seed,
                 "weak_class_variants": tuple(v.strip() for v in weak_classes.split(",") if v.strip())
                 if weak_classes else None,
                 "leave_one_capture_out": True if leave_one_capture_out else None,
                 "protocols": tuple(p.strip() for p in protocol.split(",") if p.strip()) if protocol else None}
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None}).check()
    results = run(data_dir, out_dir, config, log=lambda line: err.print(f"[dim]{line}[/]"))
    table = Table(title="Test-split results (accuracy, macro F1)", title_justify="left")
    for column in ("task", "model", "accuracy", "macro F1"):
        table.add_column(column, justify="left" if column in ("task", "model") else "right")
    for task, per_model in results["tasks"].items():
        for model, r in per_model.items():
            table.add_row(task, model, f"{r['accuracy']:.4f}", f"{r['macro_f1']:.4f}")
    for task, reason in results["not_run"].items():
        table.add_row(task, "[dim]not run[/]", "", "", end_section=False)
        err.print(f"[yellow]{task} not run:[/] {reason}")
    out.print(table)
    _show_protocols(results)
    if results["data"]["synthetic"]:
        out.print(_synthetic_note("results on"))
    out.print(f"report: {(out_dir / 'report.html').resolve()}")


def _show_protocols(results: dict) -> None:
    from iotids.report import protocol_rows

    rows = protocol_rows(results)
    if not rows:
        return
    table = Table(title="IoT-DS-2 under each protocol (test rows; 95% intervals)", title_justify="left")
    for column in ("protocol", "test data", "model", "rows", "accuracy", "macro F1", "note"):
        table.add_column(column, justify="right" if column in ("rows", "accuracy", "macro F1") else "left")
    for row in rows:
        table.add_row(*row)
    out.print(table)


@app.command("audit")
def audit_task(
    task_dir: Annotated[Path, typer.Argument(help="Task directory from `iotids build`.")],
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="Flag a feature whose macro-F1 alone "
                                                                     "reaches this.")] = 0.8,
    seed: Seed = 0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the audit as JSON instead.")] = False,
) -> None:
    """Leakage audit: duplicates across splits, label conflicts, identifier-like features, source probe."""
    from iotids.audit import audit

    result = audit(task_dir, threshold, seed)
    if json_output:
        out.print_json(json.dumps(result))
        return
    out.print(f"[bold]Audit of {task_dir}[/] ({result['evaluated_on']})")
    for side, d in result["duplicates_within"].items():
        out.print(f"{side}: {d['rows']:,} rows, {d['duplicate_rows']:,} exact duplicates ({d['rate']:.1%})")
    out.print(f"test rows whose features also occur in train: {result['test_rows_seen_in_train']:,} "
              f"({result['test_rows_seen_in_train_rate']:.1%}); val: {result['val_rows_seen_in_train']:,}")
    out.print(f"rows whose identical features carry different labels: {result['conflicting_label_rows']:,}")
    table = Table(title="Single-feature macro-F1 (depth-4 tree, train → test), top 10", title_justify="left")
    table.add_column("feature")
    table.add_column("macro-F1", justify="right")
    table.add_column("flag")
    for name, score in list(result["single_feature_macro_f1"].items())[:10]:
        table.add_row(name, f"{score:.4f}", "likely identifier" if name in result["likely_identifiers"] else "")
    out.print(table)
    probe = result["source_probe"]
    if probe["applicable"]:
        out.print(f"source probe: features tell the dataset ({', '.join(probe['sources'])}) with accuracy "
                  f"{probe['accuracy']:.4f}, macro-F1 {probe['macro_f1']:.4f} (majority share "
                  f"{probe['majority_share']:.4f})")
    else:
        out.print(f"source probe: not applicable ({probe['why']})")
    counts = Table(title="Class counts", title_justify="left")
    counts.add_column("class")
    for side in ("train", "val", "test"):
        counts.add_column(side, justify="right")
    names = list(dict.fromkeys(c for side in result["class_counts"].values() for c in side))
    for name in names:
        counts.add_row(name, *(f"{result['class_counts'][s].get(name, 0):,}" for s in ("train", "val", "test")))
    out.print(counts)
    if result["task"].get("synthetic"):
        out.print(_synthetic_note("audit of"))


def _check_split(split: str) -> None:
    if split not in ("train", "val", "test"):
        raise IotidsError(f"--split must be train, val or test, not {split!r}")


def _show_evaluation(result: dict, json_output: bool, title: str, console: Console = out) -> None:
    if json_output:
        console.print_json(json.dumps(result))
        return
    console.print(f"[bold]{title}[/]: {result['rows']:,} rows")
    console.print(f"accuracy {result['accuracy']:.4f}   weighted precision {result['weighted_precision']:.4f}   "
              f"weighted recall {result['weighted_recall']:.4f}   weighted F1 {result['weighted_f1']:.4f}   "
              f"macro F1 {result['macro_f1']:.4f}")
    if result.get("ci95"):
        ci = result["ci95"]
        console.print(f"95% bootstrap intervals over the {result['rows']:,} rows ({ci['rounds']} resamples): accuracy "
                  f"[{ci['accuracy'][0]:.4f}, {ci['accuracy'][1]:.4f}], macro F1 "
                  f"[{ci['macro_f1'][0]:.4f}, {ci['macro_f1'][1]:.4f}]")
    report = Table(title="Classification report", title_justify="left")
    for column in ("class", "precision", "recall", "F1", "support"):
        report.add_column(column, justify="left" if column == "class" else "right")
    for name, row in [*result["report"].items(), ("macro avg", result["macro_avg"]),
                      ("weighted avg", result["weighted_avg"])]:
        report.add_row(name, f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1']:.4f}",
                       f"{row['support']:,}", end_section=name == list(result["report"])[-1])
    console.print(report)
    category = Table(title="Per category, one class against the rest (counts)", title_justify="left")
    for column in ("class", "accuracy", "TP", "TN", "FP", "FN"):
        category.add_column(column, justify="left" if column == "class" else "right")
    for name, row in result["per_category"].items():
        category.add_row(name, f"{row['accuracy']:.4f}", *(f"{row[k]:,}" for k in ("TP", "TN", "FP", "FN")))
    console.print(category)
    if "confusion_png" in result:
        console.print(f"confusion matrix: {result['confusion_png']}")
    if result.get("synthetic"):
        console.print(_synthetic_note("scores on"))


@app.command()
def labels() -> None:
    """Print how every source label maps to the IoT-DS-2, IoTID20 and binary classes."""
    table = Table(title="Label maps (why: docs/labels.md)", title_justify="left")
    for column in ("source", "label as written", "IoT-DS-2", "IoTID20", "binary"):
        table.add_column(column)
    for source, raw, iotds2, iotid20, binary in mapping_rows():
        table.add_row(source, raw, f"{iotds2} ({IOTDS2_CLASSES.index(iotds2)})", iotid20, binary)
    out.print(table)


@app.command()
def formats() -> None:
    """List the native file formats iotids recognises (from the header, not the name)."""
    from iotids.sources import FORMATS

    table = Table(title="Recognised formats", title_justify="left")
    table.add_column("format")
    table.add_column("header")
    for name, text in FORMATS.items():
        table.add_row(name, text)
    out.print(table)


@app.command("demo-data")
def demo_data(
    out_dir: Annotated[Path, typer.Argument(help="Directory for the synthetic files.")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    rows: Annotated[int, typer.Option(min=1, help="Flows per source label and file.")] = 200,
    traffic: Annotated[bool, typer.Option("--traffic", help="Instead: a synthetic pcap and an unlabelled "
                                                            "conn.log, for trying `iotids detect`.")] = False,
) -> None:
    """Write SYNTHETIC sample files in every native format (named synthetic_*)."""
    if traffic:
        from iotids.synthetic_traffic import write_traffic

        files = write_traffic(out_dir, seed=seed, rows=rows)
    else:
        from iotids.synthetic import generate

        files = generate(out_dir, seed=seed, rows=rows)
    out.print(f"wrote {len(files)} [yellow]synthetic[/] sample files under {out_dir} (seed {seed})")


# The commands for your own traffic live in their own module, on the same app.
from iotids import cli_traffic  # noqa: E402,F401


def main() -> None:
    # SIGTERM ends the run like Ctrl-C does: through the clean-up code (temporary
    # outputs removed), with the conventional exit status 143.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    # Typer reports usage errors itself (exit 2); our own errors are one line.
    try:
        app()
    except IotidsError as exc:
        _fail(str(exc), 2)
    except OSError as exc:
        _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "), 1)


def _fail(message: str, code: int) -> None:
    # Plain write, not rich: the message must stay on one line, unwrapped.
    one_line = message.replace("\r", " ").replace("\n", " ").strip()
    sys.stderr.write(f"iotids: error: {one_line}\n")
    sys.exit(code)


if __name__ == "__main__":
    main()
