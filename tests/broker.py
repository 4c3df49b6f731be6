"""A private Mosquitto for a test: its own port, its own config, killable."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support import ROOT, free_port


def docker_config(passwords: Path) -> str:
    """docker/mosquitto/mosquitto.conf for a test broker: its password file and ACL as shipped,
    the listener, password file path and persistence made local."""
    conf = (ROOT / "docker" / "mosquitto" / "mosquitto.conf").read_text()
    return (conf.replace("listener 1883", "")
            .replace("/mosquitto/config/passwords", str(passwords))
            .replace("/mosquitto/config/acl", str(ROOT / "docker" / "mosquitto" / "acl"))
            .replace("persistence true", "persistence false")
            .replace("persistence_location /mosquitto/data/", ""))


class Mosquitto:
    def __init__(self, tmp: Path, extra_config: str = "", port: int | None = None):
        self.port = port or free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.config = tmp / f"mosquitto-{self.port}.conf"
        # as root, mosquitto drops to its own user, which cannot read a test's private files
        as_root = "user root\n" if os.geteuid() == 0 else ""
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\npersistence false\n{as_root}"
            f"{extra_config or 'allow_anonymous true'}\n")
        self.log = tmp / f"mosquitto-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Mosquitto:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([binary, "-c", str(self.config)],
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
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
