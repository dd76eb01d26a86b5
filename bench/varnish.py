"""Varnish in front of a local origin, for the edge test and the bench's edge phase.

varnishd runs in the foreground (-F) in its own session, with its own working directory
(-n), the shipped VCL (deploy/varnish/solidaria.vcl) with the origin's port put in, and 64 MB
of memory. As root it drops to Debian's varnish users (-j unix); anyone else runs it with
-j none. Knows nothing of Django.
"""

# varnishd, varnishstat and varnishadm run with arguments built here.
# ruff: noqa: S603, S607

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VCL = ROOT / "deploy" / "varnish" / "solidaria.vcl"
_BACKEND_PORT = re.compile(r'(\.port\s*=\s*)"8000";')


def missing() -> str | None:
    """Why Varnish cannot run here, or None when it can."""
    for tool in ("varnishd", "varnishstat", "varnishadm"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH (apt-get install varnish varnish-modules)"
    return None


def vcl_text(*, backend_port: int) -> str:
    """The shipped VCL with the origin on `backend_port` (its one `.port = "8000";`)."""
    text, count = _BACKEND_PORT.subn(rf'\g<1>"{backend_port}";', VCL.read_text())
    if count != 1:
        raise ValueError(f'{VCL} should have one backend .port = "8000"; it has {count}')
    return text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Varnish:
    """A running varnishd: `port` takes plain HTTP, `purge_port` the purges (the listener
    named `purge` in the VCL), `proxy_port` (if any) the PROXY protocol, so a test can
    present itself as another client address."""

    process: subprocess.Popen
    workdir: Path
    port: int
    purge_port: int
    proxy_port: int | None = None
    log: Path | None = None
    _owned: list[Path] = field(default_factory=list)

    def counters(self) -> dict[str, int]:
        """varnishstat's counters, by name (MAIN.backend_req, MAIN.cache_hit, ...)."""
        done = subprocess.run(
            ["varnishstat", "-n", str(self.workdir), "-1", "-j"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        data = json.loads(done.stdout)
        counters = data.get("counters", data)  # 7.x nests them; 6.x did not
        return {
            name: int(value["value"])
            for name, value in counters.items()
            if isinstance(value, dict) and "value" in value
        }

    def admin(self, *command: str) -> str:
        done = subprocess.run(
            ["varnishadm", "-n", str(self.workdir), *command],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return done.stdout

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        for path in self._owned:
            shutil.rmtree(path, ignore_errors=True)


def start(
    *,
    backend_port: int,
    port: int | None = None,
    purge_port: int | None = None,
    proxy_port: int | None = None,
    log: Path | None = None,
    memory: str = "64m",
    parameters: dict[str, str] | None = None,
) -> Varnish:
    """Start varnishd with the shipped VCL in front of 127.0.0.1:`backend_port`; returns once
    it answers. Stop it with `.stop()` (it also removes its working directory). The purge
    task's address is `http://127.0.0.1:<.purge_port>/`."""
    reason = missing()
    if reason:
        raise RuntimeError(reason)
    # Debian's varnish users must read the VCL and write the working directory: a directory
    # of our own under /tmp, readable by all (pytest's tmp_path is root's alone).
    base = Path(tempfile.mkdtemp(prefix="solidaria-varnish-"))
    base.chmod(0o755)
    vcl = base / "solidaria.vcl"
    vcl.write_text(vcl_text(backend_port=backend_port))
    vcl.chmod(0o644)
    workdir = base / "n"
    port = port or free_port()
    purge_port = purge_port or free_port()
    command = [
        "varnishd",
        "-F",
        "-n",
        str(workdir),
        "-a",
        f"127.0.0.1:{port}",
        "-a",
        f"purge=127.0.0.1:{purge_port}",
        *(["-a", f"127.0.0.1:{proxy_port},PROXY"] if proxy_port else []),
        "-f",
        str(vcl),
        "-s",
        f"malloc,{memory}",
        *([] if os.geteuid() == 0 else ["-j", "none"]),
    ]
    for name, value in (parameters or {}).items():
        command += ["-p", f"{name}={value}"]
    output = log.open("w") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )
    if log:
        output.close()
    varnish = Varnish(process, workdir, port, purge_port, proxy_port, log, [base])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            varnish.stop()
            details = log.read_text()[-2000:] if log else ""
            raise RuntimeError(f"varnishd exited ({process.returncode}): {details}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return varnish
        time.sleep(0.1)
    varnish.stop()
    raise RuntimeError("varnishd did not listen within 30 s")
