"""The lab's network: one namespace per host, joined by a bridge in a namespace of its own.

Nothing is created in the caller's namespace: the bridge and every veth
live in the lab's namespaces, so deleting those namespaces removes every
interface, and all traffic stays inside them. ``Testbed`` is a context
manager: processes started in it are stopped and the namespaces deleted on
the way out, after an error or Ctrl-C too.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from iotids.errors import IotidsError

SUBNET = "10.77.0"
HOSTS: dict[str, int] = {"broker": 10, "sensor1": 21, "sensor2": 22, "sensor3": 23, "camera": 30, "gateway": 40,
                         "attacker": 66}
PREFIX = "iotlab"


def address(host: str) -> str:
    return f"{SUBNET}.{HOSTS[host]}"


def mac(host: str) -> str:
    """Fixed MAC addresses, so labels can name the attacker's interface."""
    return f"02:1a:b0:00:00:{HOSTS[host]:02x}"


@dataclass
class Testbed:
    """Namespaces ``<prefix>-<host>`` and ``<prefix>-switch`` (bridge ``br0``)."""

    __test__ = False  # not a pytest test class, despite the name

    run_id: str = field(default_factory=lambda: str(os.getpid()))
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"{PREFIX}{self.run_id}"

    def namespace(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def namespaces(self) -> list[str]:
        return [self.namespace(h) for h in ("switch", *HOSTS)]

    def __enter__(self) -> Testbed:
        if os.geteuid() != 0:
            raise IotidsError("the lab needs root (network namespaces); run it as root or with sudo")
        if shutil.which("ip") is None:
            raise IotidsError("`ip` (iproute2) not found; `iotids lab check` lists what to install")
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _create(self) -> None:
        switch = self.namespace("switch")
        _ip("netns", "add", switch)
        self.exec_quiet("switch", "ip", "link", "add", "br0", "type", "bridge")
        self.exec_quiet("switch", "ip", "link", "set", "br0", "up")
        self.exec_quiet("switch", "ip", "link", "set", "lo", "up")
        for host in HOSTS:
            ns = self.namespace(host)
            _ip("netns", "add", ns)
            # Both ends are made inside the switch namespace, then one moves to the host.
            self.exec_quiet("switch", "ip", "link", "add", f"v-{host}", "type", "veth", "peer", "name", "eth0")
            self.exec_quiet("switch", "ip", "link", "set", "eth0", "netns", ns)
            self.exec_quiet("switch", "ip", "link", "set", f"v-{host}", "master", "br0")
            self.exec_quiet("switch", "ip", "link", "set", f"v-{host}", "up")
            self.exec_quiet(host, "ip", "link", "set", "eth0", "address", mac(host))
            self.exec_quiet(host, "ip", "addr", "add", f"{address(host)}/24", "dev", "eth0")
            self.exec_quiet(host, "ip", "link", "set", "eth0", "up")
            self.exec_quiet(host, "ip", "link", "set", "lo", "up")

    def command(self, host: str, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespace(host), *argv]

    def exec_quiet(self, host: str, *argv: str) -> None:
        done = subprocess.run(self.command(host, *argv), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise IotidsError(f"lab: `{' '.join(argv)}` in {host} failed: {done.stderr.strip()}")

    def start(self, host: str, *argv: str, log: Path | None = None) -> subprocess.Popen:
        """A background process in ``host``'s namespace, stopped when the testbed closes."""
        out = log.open("ab") if log else subprocess.DEVNULL
        process = subprocess.Popen(self.command(host, *argv), stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        if log:
            out.close()
        self.processes.append(process)
        return process

    def run(self, host: str, *argv: str, timeout: float, log: Path | None = None) -> int:
        """A foreground process in ``host``'s namespace, killed after ``timeout`` seconds."""
        process = self.start(host, *argv, log=log)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop(process)
            return -1

    def close(self) -> None:
        # A second Ctrl-C or SIGTERM must not cut the teardown short (signals can
        # only be set from the main thread; elsewhere the teardown just runs).
        previous = {}
        try:
            previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:
            pass
        try:
            self._teardown()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _teardown(self) -> None:
        for process in reversed(self.processes):
            stop(process)
        self.processes.clear()
        for ns in self.namespaces():
            for pid in _pids(ns):  # anything a tool left running inside
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def stop(process: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGINT (tcpdump flushes on it), then SIGTERM, then SIGKILL, to the process group."""
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def _ip(*argv: str) -> None:
    done = subprocess.run(["ip", *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise IotidsError(f"lab: `ip {' '.join(argv)}` failed: {done.stderr.strip()}")


def _pids(ns: str) -> list[int]:
    done = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
    return [int(p) for p in done.stdout.split()] if done.returncode == 0 else []


def leftovers(prefix: str = PREFIX) -> list[str]:
    """Lab namespaces that exist now (none should, outside a run)."""
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in done.stdout.splitlines() if line.startswith(prefix)]


def wait_for_port(bed: Testbed, host: str, target: str, port: int, timeout: float = 10.0) -> None:
    """Until ``target:port`` accepts TCP connections from ``host``."""
    deadline = time.monotonic() + timeout
    probe = ("import socket,sys; s=socket.create_connection((sys.argv[1], int(sys.argv[2])), 1); s.close()")
    import sys

    while time.monotonic() < deadline:
        done = subprocess.run(bed.command(host, sys.executable, "-c", probe, target, str(port)),
                              capture_output=True, check=False)
        if done.returncode == 0:
            return
        time.sleep(0.2)
    raise IotidsError(f"lab: {target}:{port} did not come up within {timeout:g} s")
