"""ingest and build on a Dask cluster (a local one of two worker processes, on
loopback) write the same bytes as the single-process run."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import socket
import sys
from pathlib import Path

import pytest

from conftest import run_cli
from iotids.cluster import Jobs, _probe
from iotids.errors import InputError, IotidsError
from iotids.ingest import ingest

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.CRITICAL) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def work(synthetic_dir, tmp_path_factory, scheduler) -> Path:
    """A working directory holding a copy of the SYNTHETIC files (``data``),
    ingested here (``local``) and on the cluster (``dask``); relative paths, so
    the workers, whose working directory is another, must be given absolute ones."""
    folder = tmp_path_factory.mktemp("distributed")
    shutil.copytree(synthetic_dir, folder / "data")
    stderr = []
    for name, extra in (("local", []), ("dask", ["--scheduler", scheduler])):
        result = run_cli("ingest", "data", "--out", name, "--json", *extra, cwd=folder)
        assert result.code == 0, result.stderr
        (folder / f"{name}.json").write_text(result.stdout)
        stderr.append(result.stderr)
    assert stderr[1] == stderr[0]  # nothing from Dask on the way
    return folder


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_ingest_on_the_cluster_writes_the_same_bytes(work):
    local, dask = digests(work / "local"), digests(work / "dask")
    tables = [name for name in local if name.endswith(".parquet")]
    assert len(tables) == len(json.loads((work / "local.json").read_text())["files"]) >= 10
    assert "ingest.json" in local
    assert dask == local  # every flow table and the manifest, byte for byte
    assert (work / "dask.json").read_text() == (work / "local.json").read_text()


@pytest.mark.parametrize("options", [[], ["--split", "grouped", "--dedup"]], ids=["random", "grouped-dedup"])
def test_build_on_the_cluster_writes_the_same_bytes(work, scheduler, options):
    tag = "-".join(options) or "random"
    stderr = []
    for name, extra in (("local", []), ("dask", ["--scheduler", scheduler])):
        result = run_cli("build", "local", "--out", f"task{tag}-{name}", "--seed", "3", *options, *extra, cwd=work)
        assert result.code == 0, result.stderr
        stderr.append(result.stderr)
    assert stderr[1] == stderr[0]  # the same warnings, nothing from Dask
    local, dask = digests(work / f"task{tag}-local"), digests(work / f"task{tag}-dask")
    parquet = {"split/train.parquet", "split/val.parquet", "split/test.parquet",
               "train.parquet", "val.parquet", "test.parquet"}
    assert set(local) == parquet | {"manifest.json", "preprocessor.json"}  # no parts left behind
    assert {name: dask[name] for name in local if name != "manifest.json"} == \
           {name: local[name] for name in local if name != "manifest.json"}
    # The manifests differ in the seconds RFE took only.
    manifests = [json.loads((work / f"task{tag}-{name}" / "manifest.json").read_text()) for name in ("local", "dask")]
    for manifest in manifests:
        assert manifest["rfe"].pop("seconds") >= 0
    assert manifests[0] == manifests[1]
    if "--dedup" in options:
        assert manifests[0]["duplicates"]["rows"] > 0


def test_a_workers_error_is_the_same_one_line_error(work, scheduler, tmp_path):
    bad = tmp_path / "synthetic_iotid20.csv"
    text = (work / "data" / "synthetic_iotid20.csv").read_text()
    bad.write_text(text + text.splitlines()[-1][:25])  # a truncated last line
    results = [run_cli("ingest", bad, "--out", tmp_path / name, *extra)
               for name, extra in (("local", []), ("dask", ["--scheduler", scheduler]))]
    for result in results:
        assert result.code == 2
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert results[1].stderr == results[0].stderr
    # found on the worker, by the diagnosis that names the line
    assert re.match(rf"iotids: error: {re.escape(str(bad))}:\d+: expected \d+ fields", results[0].stderr)
    with pytest.raises(InputError) as raised:  # the type survives the trip back from the worker
        ingest([bad], tmp_path / "library", scheduler=scheduler)
    assert raised.value.path == str(bad)
    assert not list((tmp_path / "dask").glob("*.parquet"))


def test_an_unreachable_scheduler_is_a_one_line_error(synthetic_dir, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    result = run_cli("ingest", synthetic_dir, "--out", tmp_path / "flows", "--scheduler", address)
    assert result.code == 2
    assert result.stderr.startswith("iotids: error: cannot reach the Dask scheduler at " + address)
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "flows").exists()


def test_a_malformed_scheduler_address_is_a_one_line_error(work):
    result = run_cli("build", "local", "--out", "task-bad", "--scheduler", "not-an-address", cwd=work)
    assert result.code == 2
    assert result.stderr.startswith("iotids: error: --scheduler not-an-address: not a Dask scheduler address")
    assert result.stderr.count("\n") == 1


def test_the_probe_names_what_a_worker_cannot_see(tmp_path):
    probe = tmp_path / ".iotids-probe-x"
    assert _probe(str(probe), "x", [])[0] == f"cannot see {tmp_path}"
    probe.write_text("x")
    assert _probe(str(probe), "x", [str(tmp_path)])[0] is None
    assert _probe(str(probe), "x", [str(tmp_path / "absent.csv")])[0] == f"cannot see {tmp_path / 'absent.csv'}"
    assert _probe(str(probe), "another run's token", [])[0] == f"cannot see {tmp_path}"


def test_without_dask_the_scheduler_option_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now fails
    with pytest.raises(IotidsError, match=r"--scheduler needs dask.distributed: pip install"):
        with Jobs("tcp://127.0.0.1:8786"):
            pass
    assert Jobs().map(divmod, [(7, 2), (9, 4)]) == [(3, 1), (2, 1)]  # the local path needs no Dask
