"""A private Mosquitto for a test: its own port, its own config, killable — or configured as the
container deployment configures it (``Deployed``: docker/mosquitto's TLS and accounts)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from tests.support import ROOT, free_port


class Mosquitto:
    def __init__(self, tmp: Path, extra_config: str = "", port: int | None = None):
        self.port = port or free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.config = tmp / f"mosquitto-{self.port}.conf"
        # as root, mosquitto drops to its own user, which cannot read a test's private files
        as_root = "user root\n" if os.geteuid() == 0 else ""
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\npersistence false\n{as_root}"
            f"{extra_config or 'allow_anonymous true'}\n"
        )
        self.log = tmp / f"mosquitto-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Mosquitto:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen(
            [binary, "-c", str(self.config)], stdout=open(self.log, "ab"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


PASSWORDS = {
    "MQTT_PASSWORD_ADMIN": "admin-test-pw",
    "MQTT_PASSWORD_SERVER_A": "server-a-test-pw",
    "MQTT_PASSWORD_SERVER_B": "server-b-test-pw",
    "MQTT_PASSWORD_SERVER_C": "server-c-test-pw",
}


def dynsec_plugin() -> str:
    found = glob.glob("/usr/lib/mosquitto_dynamic_security.so") + glob.glob(
        "/usr/lib/*/mosquitto_dynamic_security.so"
    )
    if not found:
        raise RuntimeError("Mosquitto's dynamic-security plugin is missing (Debian: mosquitto)")
    return found[0]


def recarga(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "recarga.cli", *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        env={**os.environ, **(env or {})},
        check=True,
    )


class Deployed:
    """docker/mosquitto/mosquitto.conf with what docker/mosquitto/prepare.sh makes for it — the
    CA and the broker's certificate (``recarga certs``), one account per server, car and station
    (``recarga accounts init``) — on a free port of 127.0.0.1; only the paths are local."""

    def __init__(
        self,
        tmp: Path,
        companies: str = "a,b,c",
        cars: int = 10,
        passwords: dict[str, str] | None = None,
        port: int | None = None,
    ):
        self.dir = tmp / "broker"
        self.passwords = passwords or PASSWORDS
        recarga("certs", "--out", str(self.dir), "--names", "127.0.0.1")
        recarga(
            "accounts",
            "init",
            "--companies",
            companies,
            "--cars",
            str(cars),
            "--out",
            str(self.dir / "dynamic-security.json"),
            "--devices",
            str(tmp / "devices.json"),
            env=self.passwords,
        )
        self.devices: dict[str, str] = json.loads((tmp / "devices.json").read_text())
        self.ca = self.dir / "ca.crt"
        conf = (ROOT / "docker" / "mosquitto" / "mosquitto.conf").read_text()
        conf = (
            conf.replace("listener 8883\n", "")  # Mosquitto() opens its own port
            .replace("/mosquitto/tls/", f"{self.dir}/")
            .replace("/usr/lib/mosquitto_dynamic_security.so", dynsec_plugin())
            .replace(
                "/mosquitto/data/dynamic-security.json", str(self.dir / "dynamic-security.json")
            )
            .replace("persistence true", "persistence false")
            .replace("persistence_location /mosquitto/data/", "")
        )
        self.broker = Mosquitto(tmp, extra_config=conf, port=port)
        self.port = self.broker.port

    def start(self) -> Deployed:
        self.broker.start()
        return self

    def password(self, user: str) -> str:
        if user.startswith("server-"):
            return self.passwords[f"MQTT_PASSWORD_SERVER_{user[7:].upper()}"]
        return self.passwords["MQTT_PASSWORD_ADMIN"] if user == "admin" else self.devices[user]

    def url(self, user: str | None = None, password: str | None = None) -> str:
        """``mqtts://`` as a deployment's clients use it: the broker verified with the CA."""
        auth = ""
        if user:
            secret = password if password is not None else self.password(user)
            auth = f"{quote(user, safe='')}:{quote(secret, safe='')}@"
        return f"mqtts://{auth}127.0.0.1:{self.port}?cafile={self.ca}"

    def kill(self) -> None:
        self.broker.kill()
