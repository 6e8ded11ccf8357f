"""Write outputs under a temporary name and rename them into place.

A run that fails or is interrupted leaves either the old file or nothing,
never a half-written one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it to ``final`` on success.

    The temporary file lives in a private directory that is removed on the way
    out: a writer thread that outlives a failure (Polars' sink can) then finds
    no directory to recreate its file in.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    with scratch_dir(final.parent, final.name) as scratch:
        tmp = scratch / final.name
        yield tmp
        os.replace(tmp, final)


@contextlib.contextmanager
def scratch_dir(folder: Path, name: str) -> Iterator[Path]:
    """A private directory ``folder/.NAME.*.part`` (absolute), removed on the way
    out; what a killed run left there is removed by ``sweep``."""
    path = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".part", dir=folder)).absolute()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep(folder: Path) -> None:
    """Remove the temporary directories a killed run left in ``folder`` (SIGKILL
    skips every clean-up). Call only where no other run writes at the same time."""
    if folder.is_dir():
        for stale in folder.glob(".*.part"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)


def write_json(final: Path, document: Any) -> None:
    """Write ``document`` as indented JSON, atomically."""
    with atomic_path(final) as tmp:
        tmp.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
