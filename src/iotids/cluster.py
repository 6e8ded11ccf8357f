"""Run a list of independent jobs here or on a Dask cluster; results in order.

``iotids ingest`` and ``iotids build`` hand their per-file and per-table work
to ``Jobs``: without a scheduler the jobs run in this process, with one each
job is a Dask task on the cluster's workers. The jobs are the same functions
either way and write their outputs themselves, which is what makes both ways
give byte-identical files. Workers must therefore see this machine's files at
the same paths (a shared filesystem); ``check_shared`` verifies that before
any job is sent. Dask is imported only when a scheduler is named.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from iotids.errors import IotidsError

CONNECT_TIMEOUT = 10  # seconds to reach the scheduler, and for a first worker to be there
PROBE = ".iotids-probe"


class Jobs:
    """``with Jobs(scheduler, workers) as jobs: jobs.map(fn, [(args…), …])``."""

    def __init__(self, scheduler: str | None = None, workers: int = 1) -> None:
        self.scheduler = scheduler
        self.workers = max(1, workers)
        self._client = None

    @property
    def remote(self) -> bool:
        return self.scheduler is not None

    def __enter__(self) -> Jobs:
        if self.scheduler is not None:
            self._client = _connect(self.scheduler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def map(self, fn: Callable[..., Any], jobs: Sequence[tuple],
            on_done: Callable[[int, Any], None] | None = None) -> list:
        """``[fn(*job) for job in jobs]``; ``on_done(i, result)`` as each job ends.

        The first failing job's exception is raised here, as it was raised
        (a worker's InputError stays an InputError).
        """
        if self._client is not None:
            return self._map_remote(fn, jobs, on_done)
        done = on_done or (lambda i, result: None)

        def one(i: int) -> Any:
            result = fn(*jobs[i])
            done(i, result)
            return result

        if self.workers == 1:
            return [one(i) for i in range(len(jobs))]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(one, range(len(jobs))))

    def _map_remote(self, fn: Callable[..., Any], jobs: Sequence[tuple],
                    on_done: Callable[[int, Any], None] | None) -> list:
        from distributed import as_completed

        # Arrays (a table's duplicate mask: a bit a row), and arguments carrying
        # one, go to the workers as data of their own, not inside the task
        # graph, which Dask keeps small.
        futures = [self._client.submit(fn, *(self._client.scatter(arg, hash=False) if _carries_array(arg) else arg
                                             for arg in job), pure=False)
                   for job in jobs]
        position = {future.key: i for i, future in enumerate(futures)}
        results: list = [None] * len(futures)
        try:
            for future, result in as_completed(futures, loop=self._client.loop, with_results=True):
                i = position[future.key]
                results[i] = result
                if on_done:
                    on_done(i, result)
        finally:
            # After a failure the jobs not yet started are dropped (outputs are
            # written atomically, so one still running leaves a whole file or none).
            self._client.cancel(futures)
        return results

    def check_shared(self, write_dir: Path, read: Sequence[Path] = ()) -> None:
        """Fail unless every worker sees ``write_dir`` (writable, same content)
        and the ``read`` paths as this process does, and runs the same versions."""
        if self._client is None:
            return
        write_dir = write_dir.absolute()
        write_dir.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(8)
        probe = write_dir / f"{PROBE}-{token}"
        probe.write_text(token, encoding="utf-8")
        try:
            answers = self._client.run(_probe, str(probe), token, [str(p) for p in read])
        finally:
            probe.unlink(missing_ok=True)
        here = _versions()
        for worker, (problem, versions) in sorted(answers.items()):
            if problem:
                raise IotidsError(f"Dask worker {worker} {problem}: workers must share this machine's filesystem "
                                  "at the same paths (docs/distributed.md)")
            if versions != here:
                theirs = ", ".join(f"{k} {v}" for k, v in versions.items())
                ours = ", ".join(f"{k} {v}" for k, v in here.items())
                raise IotidsError(f"Dask worker {worker} runs {theirs}, this machine {ours}: install the same "
                                  "versions on every node (the outputs depend on them)")


def _carries_array(arg: Any) -> bool:
    return isinstance(arg, np.ndarray) or any(isinstance(v, np.ndarray) for v in getattr(arg, "__dict__", {}).values())


def _connect(address: str):
    """A Client of the scheduler at ``address`` with at least one worker, or a one-line error."""
    try:
        from distributed import Client
        from distributed.comm.addressing import get_address_host_port
    except ImportError:
        raise IotidsError("--scheduler needs dask.distributed: pip install 'dask[distributed]'") from None
    try:
        # Checked first: a Client given a malformed address fails in its
        # constructor and then prints a traceback when it is collected.
        get_address_host_port(address)
    except ValueError as exc:
        raise IotidsError(f"--scheduler {address}: not a Dask scheduler address ({exc}); "
                          "e.g. tcp://host:8786") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise IotidsError(f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT} s "
                          f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError):
        client.close()
        raise IotidsError(f"the Dask scheduler at {address} has no workers (start some with "
                          f"`dask worker {address}`)") from None
    return client


def _versions() -> dict[str, str]:
    import polars as pl
    import pyarrow as pa

    from iotids import __version__

    return {"iotids": __version__, "polars": pl.__version__, "pyarrow": pa.__version__}


def _probe(probe: str, token: str, read: list[str]) -> tuple[str | None, dict[str, str]]:
    """On a worker: (what it cannot see, or None; its versions)."""
    try:
        seen = Path(probe).read_text(encoding="utf-8")
    except OSError:
        seen = None
    folder = os.path.dirname(probe)
    if seen != token:
        problem: str | None = f"cannot see {folder}"
    elif not os.access(folder, os.W_OK):
        problem = f"cannot write to {folder}"
    else:
        problem = next((f"cannot see {p}" for p in read if not os.path.exists(p)), None)
    return problem, _versions()
