"""``iotids detect``, ``flows``, ``export`` and ``serve``: the commands for your own traffic.

Part of the command line (registered on ``iotids.cli.app``); like it, the
only place that prints.
"""

from __future__ import annotations

import json
import signal
import sys
from contextlib import ExitStack
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from iotids.cli import _show_evaluation, app, err, out
from iotids.errors import IotidsError


class Meter(StrEnum):
    nfstream = "nfstream"
    argus = "argus"


class Backend(StrEnum):
    auto = "auto"
    torch = "torch"
    onnx = "onnx"
    onnx_int8 = "onnx-int8"


MeterOption = Annotated[Meter, typer.Option(help="Flow meter for pcap input.")]
IdleTimeout = Annotated[int, typer.Option(min=1, help="pcap: a flow idle this many seconds ends (nfstream).")]
ActiveTimeout = Annotated[int, typer.Option(min=1, help="pcap: longer flows are cut into records of this many "
                                                        "seconds (nfstream active timeout, argus -S).")]
BackendOption = Annotated[Backend, typer.Option(help="Run the network in torch, onnxruntime, or onnxruntime with "
                                                     "int8 weights (dynamic quantization: smaller, logits differ "
                                                     "slightly) [auto: torch or onnxruntime, whichever scores "
                                                     "this model faster here, timed at start].")]


@app.command()
def detect(
    bundle_dir: Annotated[Path, typer.Argument(help="Bundle directory from `iotids train`.")],
    inputs: Annotated[list[Path], typer.Argument(help="Flow logs/CSVs (conn.log, CICFlowMeter, Argus, "
                                                      "MQTT-IoT-IDS2020 flows, NFStream) or pcaps.")],
    out_file: Annotated[Path | None, typer.Option("--out", help="Alerts as JSON lines [default: stdout].")] = None,
    threshold: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Flag a flow when its probability of "
                                                    "not being Normal is at least this [default: the bundle's "
                                                    "decision].")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Keep reading lines appended to the (one) input, "
                                                          "until Ctrl-C.")] = False,
    idle_exit: Annotated[float | None, typer.Option(min=0.0, help="With --follow: stop after this many seconds "
                                                                  "without new rows.")] = None,
    meter: MeterOption = Meter.nfstream,
    idle_timeout: IdleTimeout = 120,
    active_timeout: ActiveTimeout = 1800,
    batch_size: Annotated[int, typer.Option(min=1, help="Flows scored at once.")] = 8192,
    backend: BackendOption = Backend.auto,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON (needs --out).")] = False,
) -> None:
    """Score flows with a bundle: JSON-line alerts for flagged flows, then a summary."""
    from iotids.atomic import atomic_path
    from iotids.detect import DetectOptions, Scorer, detect_file
    from iotids.detect import follow as follow_file
    from iotids.flowmeter import Timeouts

    if json_output and out_file is None:
        raise IotidsError("--json prints the summary on stdout; give --out FILE for the alerts")
    if follow and len(inputs) != 1:
        raise IotidsError("--follow reads exactly one input")
    if idle_exit is not None and not follow:
        raise IotidsError("--idle-exit goes with --follow")
    scorer = Scorer(bundle_dir, backend.value)
    options = DetectOptions(threshold=threshold, batch_size=batch_size, meter=meter.value,
                            timeouts=Timeouts(idle_timeout, active_timeout))
    summary = err if out_file is None else out
    reports = []
    with ExitStack() as stack:
        if out_file is None:
            sink = sys.stdout
        elif follow:  # a stream: appended and flushed as found, not renamed into place
            sink = stack.enter_context(out_file.open("a", encoding="utf-8"))
        else:  # renamed into place once every input is scored
            sink = stack.enter_context(stack.enter_context(atomic_path(out_file)).open("w", encoding="utf-8"))

        def on_alert(alert: dict) -> None:
            sink.write(json.dumps(alert, separators=(",", ":")) + "\n")

        if follow:
            stopping = {"now": False}

            def stop_now(signum, frame) -> None:
                stopping["now"] = True

            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, stop_now)
            reports.append(follow_file(scorer, inputs[0], options, on_alert, on_batch=lambda report: sink.flush(),
                                       idle_exit=idle_exit, stop=lambda: stopping["now"]))
        else:
            with _progress(summary) as progress:
                for path in inputs:
                    progress.update(progress.task_ids[0], description=f"scoring {path.name}")
                    reports.append(detect_file(scorer, path, options, on_alert))
                    progress.advance(progress.task_ids[0])
        sink.flush()
    _show_detection(scorer, reports, options, out_file, json_output, summary)


def _progress(console: Console):
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                        console=console, transient=True, disable=not console.is_terminal)
    progress.add_task("scoring", total=None)
    return progress


def _show_detection(scorer, reports: list, options, out_file: Path | None, json_output: bool,
                    console: Console) -> None:
    if json_output:
        console.print_json(json.dumps({
            "bundle": scorer.id, "backend": scorer.backend, "backend_flows_per_s": scorer.speeds,
            "schema": scorer.schema, "threshold": options.threshold,
            "alerts": str(out_file), "inputs": [r.to_json() for r in reports]}))
        return
    table = Table(title=f"Detection with bundle {scorer.id} ({scorer.schema} schema, {scorer.backend})",
                  title_justify="left")
    for column in ("input", "read as", "flows", "flagged", "share", "flows/s"):
        table.add_column(column, justify="left" if column in ("input", "read as") else "right")
    for r in reports:
        flagged = sum(r.flagged.values())
        share = f"{flagged / r.flows:.1%}" if r.flows else "–"
        read_as = f"{r.format} (via {r.meter})" if r.meter else r.format
        table.add_row(Path(r.path).name, read_as, f"{r.flows:,}", f"{flagged:,}", share, f"{r.flows_per_second:,.0f}")
    console.print(table)
    for r in reports:
        if r.flagged:
            console.print(f"flagged in {Path(r.path).name}: " + ", ".join(f"{c} {n:,}" for c, n in r.flagged.items()))
    if out_file is not None:
        console.print(f"alerts: {out_file}")
    for r in reports:
        for warning in r.warnings:
            console.print(f"[yellow]warning[/]: {r.path}: {warning}")
        if r.evaluation:
            _show_evaluation(r.evaluation, False, f"Labels in {r.path} against the decided classes "
                                                  f"({r.unlabeled:,} rows had no class of this task)", console)


@app.command()
def flows(
    pcap: Annotated[Path, typer.Argument(help="A pcap or pcapng capture.")],
    out_file: Annotated[Path, typer.Option("--out", help="The flow CSV to write.")],
    meter: MeterOption = Meter.nfstream,
    idle_timeout: IdleTimeout = 120,
    active_timeout: ActiveTimeout = 1800,
) -> None:
    """Turn a capture into flow records with a real flow meter (Argus or NFStream)."""
    from iotids.flowmeter import Timeouts, measure
    from iotids.sources import read

    if not pcap.is_file():
        raise IotidsError(f"{pcap}: no such file")
    measure(pcap, out_file, meter.value, Timeouts(idle_timeout, active_timeout))
    rows = read(out_file).select("row_id").collect().height
    out.print(f"{rows:,} flows from {pcap} ({meter.value}) → {out_file}")


@app.command()
def export(
    bundle_dir: Annotated[Path, typer.Argument(help="Bundle directory from `iotids train`.")],
    onnx: Annotated[Path, typer.Option("--onnx", help="The ONNX file to write.")],
    int8: Annotated[bool, typer.Option("--int8", help="Dynamic int8 quantization of the weights (onnxruntime): "
                                                      "about 4x smaller; logits differ slightly.")] = False,
) -> None:
    """Write a bundle's network as ONNX, its preprocessing and classes as metadata."""
    from iotids.onnx_export import export_onnx

    summary = export_onnx(bundle_dir, onnx, int8=int8)
    out.print(f"wrote {summary['path']} ({summary['bytes']:,} bytes{', int8' if int8 else ''}, "
              f"opset {summary['opset']}, bundle "
              f"{summary['bundle_id']}, classes: {', '.join(summary['classes'])})")


@app.command()
def serve(
    bundle_dir: Annotated[Path, typer.Argument(help="Bundle directory from `iotids train`.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
    max_body: Annotated[int, typer.Option(min=1, help="Largest request body in bytes (413 above).")] = 4 << 20,
    max_batch: Annotated[int, typer.Option(min=1, help="Most flows per request (422 above).")] = 10_000,
    timeout: Annotated[float, typer.Option(min=0.001, help="Seconds of scoring per request (503 after).")] = 10.0,
    backend: BackendOption = Backend.auto,
) -> None:
    """Serve a bundle over HTTP: POST /v1/score, GET /v1/model, GET /healthz, OpenAPI at /docs."""
    import uvicorn

    from iotids.service import Limits, create_app

    application = create_app(bundle_dir, Limits(max_body, max_batch, timeout), backend.value)
    out.print(f"serving {bundle_dir} on http://{host}:{port} (OpenAPI at /docs; Ctrl-C stops)")
    uvicorn.run(application, host=host, port=port, log_level="warning")


lab_app = typer.Typer(no_args_is_help=True, help="A traffic lab: real, labelled IoT traffic in network namespaces.")
app.add_typer(lab_app, name="lab")


@lab_app.command("check")
def lab_check() -> None:
    """Say what the lab needs and what is missing here."""
    from iotids.lab.run import check

    rows = check()
    table = Table(title="Traffic lab requirements", title_justify="left")
    for column in ("requirement", "present", "to install"):
        table.add_column(column)
    for name, present, how in rows:
        table.add_row(name, "yes" if present else "[red]no[/]", "" if present else how)
    out.print(table)
    if not all(present for _, present, _ in rows):
        raise typer.Exit(1)


@lab_app.command("run")
def lab_run(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the pcaps, flow files and manifest.")],
    scenarios: Annotated[str, typer.Option(help="Comma-separated scenarios to run, in order [default: all: "
                                                "normal, scan, udp-scan, mqtt-bruteforce, ssh-bruteforce, "
                                                "syn-flood, udp-flood, http-flood, arp-spoof].")] = "all",
    seconds: Annotated[float, typer.Option(help="Seconds of each attack (and of the normal scenario).")] = 10.0,
    seed: Annotated[int, typer.Option(help="Random seed of the benign traffic and the attack tools.")] = 0,
) -> None:
    """Run scenarios on a namespaced testbed (root), capture, measure and label the flows."""
    from iotids.lab.run import run_lab
    from iotids.lab.scenarios import SCENARIOS

    names = list(SCENARIOS) if scenarios == "all" else [s.strip() for s in scenarios.split(",") if s.strip()]
    manifest = run_lab(out_dir, names, seconds=seconds, seed=seed, progress=lambda line: err.print(f"[dim]{line}[/]"))
    table = Table(title=f"Lab run in {out_dir}", title_justify="left")
    for column in ("scenario", "packets", "flows (argus / nfstream)", "attack flows (argus / nfstream)", "files"):
        table.add_column(column, justify="left" if column in ("scenario", "files") else "right")
    for name, record in manifest["scenarios"].items():
        table.add_row(name, f"{record['packets']:,}", f"{record['flows']['argus']:,} / {record['flows']['nfstream']:,}",
                      f"{record['attack_flows']['argus']:,} / {record['attack_flows']['nfstream']:,}",
                      ", ".join(record["files"]))
    out.print(table)
    out.print(f"manifest: {out_dir / 'manifest.json'}")
