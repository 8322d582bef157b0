"""Processes the benchmark starts: emulators and ``qcluster``, each in its own session.

Every process is registered with a :class:`Processes` stack that stops them all, in
reverse order, when the run ends for any reason (also Ctrl-C). Stopping is SIGTERM to the
main process only (django-q2 drains gracefully; a SIGTERM to the whole group can hang,
see docs/queue-and-http.md), then SIGKILL to the group if it has not ended in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.database import BASE_DIR


class ManagedProcess:
    """A subprocess in a new session with its output in a log file."""

    def __init__(self, name: str, proc: subprocess.Popen, log: Path) -> None:
        self.name = name
        self.proc = proc
        self.log = log

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self, tail: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the main process; SIGKILL the whole group if it is still there after ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers (workers) of this session only
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


class Processes:
    """Everything started during a run, stopped in reverse order by :meth:`stop_all`."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.running: list[ManagedProcess] = []

    def start(self, name: str, argv: list[str], *, env: dict[str, str], **popen: Any) -> ManagedProcess:
        log = self.log_dir / f"{name}.log"
        handle = log.open("w")
        proc = subprocess.Popen(
            argv,
            cwd=BASE_DIR,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **popen,
        )
        handle.close()
        managed = ManagedProcess(name, proc, log)
        self.running.append(managed)
        return managed

    def stop(self, managed: ManagedProcess, timeout: float = 20.0) -> None:
        managed.stop(timeout)
        if managed in self.running:
            self.running.remove(managed)

    def stop_all(self) -> None:
        while self.running:
            self.stop(self.running[-1], timeout=10.0)


# --- emulators -----------------------------------------------------------------------------


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: no Nagle delay between headers and body.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    return sock


class EmulatorProcess:
    """A provider emulator served by ``bench.emulator_server`` in its own process."""

    def __init__(
        self,
        processes: Processes,
        kind: str,
        credentials: dict[str, str],
        *,
        loop: str = "uvloop",
        keep_payloads: bool = True,
        **options: Any,
    ) -> None:
        sock = _listen()
        self.kind = kind
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        self.process = processes.start(
            f"emulator-{kind}",
            [sys.executable, "-m", "bench.emulator_server", str(sock.fileno())],
            env=env,
            stdin=subprocess.PIPE,
            pass_fds=(sock.fileno(),),
        )
        config = {
            "kind": kind,
            "credentials": credentials,
            "options": options,
            "loop": loop,
            "keep_payloads": keep_payloads,
        }
        self.process.proc.stdin.write(json.dumps(config).encode())
        self.process.proc.stdin.close()
        sock.close()  # the child holds its own copy
        self.control = httpx.Client(base_url=self.url, timeout=120)
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.control.get("/_emulator/counts").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if not self.process.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"emulator {kind} did not start:\n{self.process.output()}")
            time.sleep(0.05)

    def counts(self) -> dict[str, Any]:
        """Return ``requests_seen``, ``accepted`` and the per-target and per-key counts."""
        response = self.control.get("/_emulator/counts")
        response.raise_for_status()
        return response.json()

    def summary(self) -> dict[str, Any]:
        """Return the emulator's own exactly-once summary (``bench.emulator_server``): a few
        numbers however many targets it accepted."""
        response = self.control.get("/_bench/summary")
        response.raise_for_status()
        return response.json()

    def log(self) -> list[dict[str, Any]]:
        """Return every accepted request (at, path, key, targets, payload)."""
        response = self.control.get("/_emulator/log")
        response.raise_for_status()
        return response.json()["accepted"]

    def reset(self) -> None:
        """Forget accepted requests and knobs (frees the emulator's memory between phases)."""
        self.control.post("/_emulator/reset").raise_for_status()

    def rss_mb(self) -> float:
        return process_memory(self.process.pid)["rss_kb"] / 1024


# --- qcluster -------------------------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the ppid follows the last ")".
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    """Return the pids of every process below ``pid``."""
    tree = _children_map()
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def process_memory(pid: int) -> dict[str, int]:
    """Return the resident set (``rss_kb``) and its peak so far (``hwm_kb``, VmHWM) of ``pid``."""
    values = {"rss_kb": 0, "hwm_kb": 0}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    values["rss_kb"] = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    values["hwm_kb"] = int(line.split()[1])
    except OSError:
        pass
    return values


def process_cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system, seconds) ``pid`` has used so far; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


class Cluster:
    """A real ``manage.py qcluster`` (main process, sentinel, workers, pusher, monitor)."""

    def __init__(self, processes: Processes, name: str, env_overrides: dict[str, str] | None = None) -> None:
        env = dict(os.environ)
        env.update(env_overrides or {})
        self.processes = processes
        self.process = processes.start(
            name, [sys.executable, str(BASE_DIR / "manage.py"), "qcluster"], env=env
        )

    def memory(self) -> dict[int, dict[str, int]]:
        """Return ``process_memory`` of the main process and each descendant, by pid."""
        pids = [self.process.pid, *descendants(self.process.pid)]
        return {pid: process_memory(pid) for pid in pids}

    def cpu_seconds(self) -> float:
        """Return the CPU time the main process and every descendant have used so far."""
        return sum(process_cpu_seconds(pid) for pid in [self.process.pid, *descendants(self.process.pid)])

    def wait_for_workers(self, expected: int, timeout: float = 60) -> None:
        """Wait until the cluster has forked its processes (sentinel, workers, pusher, monitor)."""
        deadline = time.monotonic() + timeout
        while len(descendants(self.process.pid)) < expected + 1:
            if not self.process.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"qcluster did not start:\n{self.process.output()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 30) -> None:
        self.processes.stop(self.process, timeout=timeout)
