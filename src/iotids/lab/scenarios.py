"""The lab's scenarios: how each attack is made, and the labels its flows get
in each dataset's vocabulary (so iotids' own readers read the lab's output)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from iotids.errors import IotidsError
from iotids.lab.testbed import Testbed, address, mac

AGENTS = (sys.executable, "-m", "iotids.lab.agents")
SENSOR_PASSWORD = "lab-sensor-secret"  # the password of every sensor's broker account


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    botiot: str | None  # BoT-IoT "category/subcategory" of the attack flows (None: no BoT-IoT label)
    iotid20: str | None  # IoTID20 "Cat/Sub_Cat"
    mqtt: str | None  # MQTT-IoT-IDS2020 scenario (file name)
    attack: Callable[[Testbed, float, int, Path], None] | None = None


def _nmap(*options: str) -> Callable[[Testbed, float, int, Path], None]:
    def run(bed: Testbed, seconds: float, seed: int, log: Path) -> None:
        bed.run("attacker", "nmap", "-n", "-Pn", "--host-timeout", f"{int(seconds)}s", *options,
                address("broker"), address("camera"), timeout=seconds + 15, log=log)

    return run


def _hping(*options: str) -> Callable[[Testbed, float, int, Path], None]:
    def run(bed: Testbed, seconds: float, seed: int, log: Path) -> None:
        count = str(int(min(400 * seconds, 8000)))  # about 400 packets/s, capped
        bed.run("attacker", "hping3", "-q", "-i", "u2500", "-c", count, *options, address("broker"),
                timeout=seconds + 10, log=log)

    return run


def _agent(role: str, *options: str) -> Callable[[Testbed, float, int, Path], None]:
    def run(bed: Testbed, seconds: float, seed: int, log: Path) -> None:
        bed.run("attacker", *AGENTS, role, "--seconds", str(seconds), "--seed", str(seed), *options,
                timeout=seconds + 10, log=log)

    return run


def _arp_spoof(bed: Testbed, seconds: float, seed: int, log: Path) -> None:
    bed.exec_quiet("attacker", "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")  # relay: a man in the middle
    try:
        bed.run("attacker", *AGENTS, "arp-spoof", "--seconds", str(seconds), "--victim", address("sensor1"),
                "--victim-mac", mac("sensor1"), "--target", f"{address('broker')},{mac('broker')}",
                "--target", f"{address('camera')},{mac('camera')}", timeout=seconds + 10, log=log)
    finally:  # a later scenario must not be relayed (and labelled) through the attacker
        bed.exec_quiet("attacker", "sysctl", "-q", "-w", "net.ipv4.ip_forward=0")
        for host in ("sensor1", "broker", "camera"):  # forget the poisoned ARP entries
            bed.exec_quiet(host, "ip", "neigh", "flush", "dev", "eth0")


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("normal", "benign traffic only", "Normal/Normal", "Normal/Normal", "normal"),
    Scenario("scan", "nmap TCP SYN scan of ports 1-1024 on two hosts", "Reconnaissance/Service_Scan",
             "Scan/Scan Hostport", "scan_A", _nmap("-sS", "-T4", "--max-rate", "300", "-p", "1-1024")),
    Scenario("udp-scan", "nmap UDP scan of the top 50 ports", "Reconnaissance/Service_Scan", "Scan/Scan Hostport",
             "scan_sU", _nmap("-sU", "--max-rate", "100", "--top-ports", "50")),
    Scenario("mqtt-bruteforce", "MQTT password guessing, one connection per guess", None, None,
             "mqtt_bruteforce", _agent("mqtt-bruteforce", "--broker", address("broker"), "--user", "sensor1",
                                       "--attempts", "400")),
    Scenario("ssh-bruteforce", "SSH password guessing with the OpenSSH client, one connection per guess", None,
             None, "sparta", _agent("ssh-bruteforce", "--target", address("gateway"), "--user", "admin",
                                    "--attempts", "300")),
    Scenario("syn-flood", "hping3 TCP SYN flood at ~400 packets/s on the broker", "DoS/TCP", "DoS/DoS-Synflooding",
             None, _hping("-S", "-p", "1883")),
    Scenario("udp-flood", "hping3 UDP flood at ~400 packets/s on the broker", "DoS/UDP", "Mirai/Mirai-UDP Flooding",
             None, _hping("--udp", "-p", "5683")),
    Scenario("http-flood", "back-to-back HTTP requests to the camera", "DoS/HTTP", "Mirai/Mirai-HTTP Flooding", None,
             _agent("http-flood", "--target", f"{address('camera')}:80", "--attempts", "4000")),
    Scenario("arp-spoof", "ARP replies poisoning sensor1, the broker and the camera, traffic relayed", None,
             "MITM ARP Spoofing/MITM ARP Spoofing", None, _arp_spoof),
)}
BENIGN = SCENARIOS["normal"]


def start_benign(bed: Testbed, folder: Path, seed: int) -> None:
    """The broker (one account per sensor), the camera, the gateway (SSH, time), three sensors."""
    passwords = folder / "mosquitto.passwd"
    _setup(["mosquitto_passwd", "-c", "-b", str(passwords), "sensor1", SENSOR_PASSWORD])
    for user in ("sensor2", "sensor3"):
        _setup(["mosquitto_passwd", "-b", str(passwords), user, SENSOR_PASSWORD])
    passwords.chmod(0o644)
    config = folder / "mosquitto.conf"
    config.write_text(f"user root\nlistener 1883 0.0.0.0\nallow_anonymous false\npassword_file {passwords}\n"
                      "persistence false\nlog_type error\n")
    bed.start("broker", "mosquitto", "-c", str(config), log=folder / "broker.log")
    _start_sshd(bed, folder)
    bed.start("camera", *AGENTS, "camera", "--port", "80", "--seed", str(seed), log=folder / "camera.log")
    bed.start("gateway", *AGENTS, "time-server", log=folder / "time-server.log")
    from iotids.lab.testbed import wait_for_port

    wait_for_port(bed, "sensor1", address("broker"), 1883)
    wait_for_port(bed, "sensor1", address("camera"), 80)
    wait_for_port(bed, "sensor1", address("gateway"), 22)
    for k, interval in ((1, 1.0), (2, 2.0), (3, 0.5)):
        bed.start(f"sensor{k}", *AGENTS, "sensor", "--name", f"sensor{k}", "--broker", address("broker"),
                  "--user", f"sensor{k}", "--password", SENSOR_PASSWORD, "--camera", f"{address('camera')}:80",
                  "--time-server", address("gateway"),
                  "--interval", str(interval), "--seed", str(seed * 10 + k), log=folder / f"sensor{k}.log")


def _start_sshd(bed: Testbed, folder: Path) -> None:
    """OpenSSH in the gateway host: password logins allowed (and all guesses wrong)."""
    key = folder / "ssh_host_ed25519_key"
    _setup(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)])
    config = folder / "sshd_config"
    config.write_text(f"Port 22\nListenAddress {address('gateway')}\nHostKey {key}\nPidFile {folder / 'sshd.pid'}\n"
                      "PasswordAuthentication yes\nKbdInteractiveAuthentication no\nUsePAM no\n"
                      "PermitRootLogin no\nMaxStartups 100:30:200\nLogLevel ERROR\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    bed.start("gateway", "/usr/sbin/sshd", "-D", "-e", "-f", str(config), log=folder / "sshd.log")


def _setup(command: list[str]) -> None:
    """A setup step outside the namespaces; a failure is one clear error."""
    import subprocess

    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        problem = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise IotidsError(f"lab: `{command[0]}` failed: {problem}")
