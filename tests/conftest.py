"""Shared fixtures: the real sample data (skipped when absent), synthetic
files generated once per session, and a CLI runner in a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from iotids.synthetic import generate

SHARED_DATA = Path(os.environ.get("IOTIDS_SHARED_DATA", Path(__file__).parents[2] / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "SOURCES.md").is_file():
        pytest.skip(f"real sample data not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SYNTHETIC sample files in every native format (small)."""
    out = tmp_path_factory.mktemp("synthetic")
    generate(out, seed=7, rows=60)
    return out


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str | Path, cwd: Path | None = None, timeout: float = 120) -> Result:
    done = subprocess.run(
        [sys.executable, "-m", "iotids", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=timeout,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def traffic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SYNTHETIC pcap and unlabelled conn.log (iotids.synthetic_traffic)."""
    from iotids.synthetic_traffic import write_traffic

    out = tmp_path_factory.mktemp("traffic")
    write_traffic(out, seed=3, rows=40)
    return out


@pytest.fixture(scope="session")
def common_bundle(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CNN1D bundle on the common schema, trained briefly on the SYNTHETIC files."""
    from bundles import train_bundle
    from iotids.build import BuildOptions

    return train_bundle(synthetic_dir, tmp_path_factory.mktemp("common"), BuildOptions(schema="common"), 3)


@pytest.fixture(scope="session")
def real_common_bundle(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CNN1D bundle on the common schema, trained on the real IoT-23 conn.logs."""
    from bundles import train_bundle
    from iotids.build import BuildOptions

    return train_bundle(shared_data / "iot23", tmp_path_factory.mktemp("real-common"),
                        BuildOptions(schema="common"), 2)
