"""The embedded MongoDB-wire server (SecantusDB), run as a child process.

SecantusDB is GPL-2.0: we only run its ``secantusd-py`` launcher, never import
it. The child is started on a free loopback port, waited for until it answers,
and stopped on shutdown; on Linux it is also told to die with its parent, so a
crashed or killed gateway never leaves an orphan holding the data directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

LAUNCHER = "secantusd-py"
_PR_SET_PDEATHSIG = 1


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be started."""


def find_launcher() -> str:
    """Locate ``secantusd-py``: beside this interpreter first, then on PATH."""
    beside = Path(sys.executable).parent / LAUNCHER
    if beside.exists():
        return str(beside)
    found = shutil.which(LAUNCHER)
    if found is None:
        raise EmbeddedServerError(
            f"{LAUNCHER} not found; install the project (pip install -e .) or set MONGO_URI"
        )
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port``.

    SO_REUSEADDR, as servers set it: connections lingering in TIME_WAIT from a
    previous run on the same port do not count, only a live listener does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False


def _die_with_parent() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def set_pdeathsig() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        # Its own process group: a Ctrl-C in the terminal reaches the gateway,
        # which then stops the server in order instead of both racing.
        os.setpgrp()

    return set_pdeathsig


class EmbeddedServer:
    """A SecantusDB child process serving one data directory.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.

    Args:
        storage_path: the WiredTiger directory, kept across restarts;
            ``":memory:"`` for a throwaway store (tests).
        host: the loopback address to listen on.
        port: a fixed port, or None for a free one.
        log_path: where the child's output goes (default: beside the data,
            or a temp file for ``:memory:``).
    """

    def __init__(
        self,
        storage_path: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.storage_path = str(storage_path)
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the server and wait until it accepts connections.

        Raises:
            EmbeddedServerError: the port is taken, the storage path is not a
                usable folder, or the launcher exits or does not answer in time.
        """
        # Checked first: with the port held by another process, the readiness
        # probe below would connect to *that* process and report success while
        # the launcher dies on its failed bind.
        if _port_in_use(self.host, self.port):
            raise EmbeddedServerError(
                f"cannot start {LAUNCHER}: {self.host}:{self.port} is already in use"
            )
        if self.storage_path != ":memory:":
            try:
                Path(self.storage_path).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise EmbeddedServerError(
                    f"cannot use {self.storage_path!r} as the database folder: {exc}"
                ) from exc
        if self.log_path is None:
            base = (
                Path(self.storage_path).parent
                if self.storage_path != ":memory:"
                else Path(os.environ.get("TMPDIR", "/tmp"))
            )
            self.log_path = base / f"secantusd-{self.port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # An empty config file turns off the launcher's auto-discovery of a
        # stray ./secantusd.toml, so the flags below are the whole config.
        config = self.log_path.with_suffix(".toml")
        config.write_text("")
        args = [
            find_launcher(),
            "--config",
            str(config),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--storage-path",
            self.storage_path,
            "--log-level",
            "WARNING",
        ]
        with self.log_path.open("ab") as out:
            self._process = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Only prctl and setpgrp run between fork and exec: safe.
                preexec_fn=_die_with_parent(),
            )
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedServerError(
                    f"{LAUNCHER} exited with code {self._process.returncode} before it was "
                    f"ready; its log ({self.log_path}) ends with:\n{self._log_tail()}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=0.5),
            ):
                if self._process.poll() is None:
                    return
            time.sleep(0.05)
        raise EmbeddedServerError(
            f"{LAUNCHER} did not answer on {self.host}:{self.port} within {timeout_s:.0f} s"
        )

    def _log_tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout_s``)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s; killing it", LAUNCHER, timeout_s)
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL the server, as a crash or an OOM kill would (durability tests)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
