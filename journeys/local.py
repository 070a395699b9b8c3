"""A throwaway InfluxDB 1.x server for demos, notebooks and tests.

:class:`LocalInfluxDB` starts its own ``influxd`` with a generated
configuration in a temporary folder, every listener bound to a free port on
127.0.0.1, waits until it answers ``/ping``, and on leaving stops it and
removes the folder. It never touches a system service or port 8086, so it can
run beside any other InfluxDB on the machine. On Linux, ``influxd`` is also
told by the kernel to stop when the Python process that started it dies without
cleaning up (a kernel restarted in Jupyter, a ``kill -9``), so no server is
left running behind a dead notebook.

Examples
--------
>>> import journeys as jy
>>> with jy.LocalInfluxDB() as server:  # doctest: +SKIP
...     db = jy.connect(server.url)
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from mirakuru import HTTPExecutor
from mirakuru.exceptions import AlreadyRunning, ProcessExitedWithError, TimeoutExpired

from journeys.errors import LocalServerError

__all__ = ["LocalInfluxDB", "find_influxd"]

logger = logging.getLogger(__name__)

_INSTALL_HINT = (
    "install InfluxDB 1.x (on Debian: `apt-get install influxdb`), or point "
    "`influxd=` at the binary"
)

_CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  trace-logging-enabled = false
  index-version = "{index}"

[coordinator]
  log-queries-after = "0s"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false
  max-body-size = {max_body_size}

[logging]
  level = "warn"
  suppress-logo = true

[continuous_queries]
  enabled = false

[subscriber]
  enabled = false
"""


def find_influxd(influxd: str | None = None) -> str:
    """Return the path of the ``influxd`` binary to start.

    Parameters
    ----------
    influxd : str, optional
        A path or command name; by default ``influxd`` on the ``PATH``.

    Raises
    ------
    LocalServerError
        When no such binary exists.
    """
    path = shutil.which(influxd or "influxd")
    if path is None:
        raise LocalServerError(f"no influxd found ({influxd or 'influxd'}): {_INSTALL_HINT}")
    return path


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _child_setup(parent: int):
    """What the forked child runs before ``influxd``: its own session, and on
    Linux a SIGTERM from the kernel when the thread that started it ends.

    The parent-death signal is only asked for from the main thread, whose end
    is the end of Python; a worker thread that starts a server and finishes
    would otherwise stop it.
    """
    prctl = None
    if sys.platform == "linux" and threading.current_thread() is threading.main_thread():
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork

    def setup() -> None:
        os.setsid()
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:  # the parent died before the signal was set
                os._exit(1)

    return setup


class _Executor(HTTPExecutor):
    """mirakuru's executor, with the child set up by :func:`_child_setup`."""

    @property
    def _popen_kwargs(self) -> dict:
        kwargs = super()._popen_kwargs
        kwargs["preexec_fn"] = _child_setup(os.getpid())
        return kwargs


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalInfluxDB:
    """A private ``influxd`` that lives as long as a ``with`` block.

    Parameters
    ----------
    influxd : str, optional
        The binary to run; ``influxd`` on the ``PATH`` by default.
    database : str
        A database created once the server is up, ready for writes.
    index : {"inmem", "tsi1"}
        The series index. ``tsi1`` keeps memory flat when a layout creates many
        series.
    max_body_size : int
        The largest request body the server accepts, in bytes (0 for no limit).
    timeout : float
        Seconds to wait for the server to answer ``/ping``.

    Attributes
    ----------
    url : str
        The HTTP address, for example ``http://127.0.0.1:40123``.
    root : pathlib.Path
        The temporary folder holding the configuration and the data.
    """

    def __init__(
        self,
        *,
        influxd: str | None = None,
        database: str = "journeys",
        index: str = "inmem",
        max_body_size: int = 25_000_000,
        timeout: float = 30.0,
    ):
        self.influxd = find_influxd(influxd)
        self.database = database
        self.index = index
        self.max_body_size = max_body_size
        self.timeout = timeout
        self.url = ""
        self.root: Path | None = None
        self._executor: HTTPExecutor | None = None

    def __enter__(self) -> LocalInfluxDB:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._executor is not None and self._executor.running()

    @property
    def pid(self) -> int | None:
        """The process id of ``influxd`` while it runs."""
        if self._executor is None or self._executor.process is None:
            return None
        return self._executor.process.pid

    def start(self) -> None:
        """Start the server and wait until it answers; create the database."""
        if self.running:
            return

        # A port found free can be taken by another process before influxd binds
        # it; a second try with new ports makes that race harmless.
        for attempt in range(3):
            try:
                self._start_once()
                break
            except (TimeoutExpired, ProcessExitedWithError, AlreadyRunning) as exc:
                log = self._read_log()
                self._cleanup()
                if attempt == 2:
                    raise LocalServerError(
                        f"influxd did not start within {self.timeout:g} s: {exc}. "
                        f"Its last output:\n{log}"
                    ) from exc
                logger.warning("influxd did not start (%s); trying other ports", exc)

        # Whatever happens to the caller, the process must not outlive Python.
        atexit.register(self.stop)
        if self.database:
            self._create_database()

    def _start_once(self) -> None:
        # Limitation: a Python process killed outright leaves this folder in the
        # temporary directory (its influxd stops); removing stale folders whose
        # server is gone on the next start would fix it.
        self.root = Path(tempfile.mkdtemp(prefix="journeys-influxd-"))
        http_port, rpc_port = _free_port(), _free_port()
        config = self.root / "influxdb.conf"
        config.write_text(
            _CONFIG.format(
                root=self.root.as_posix(),
                http_port=http_port,
                rpc_port=rpc_port,
                index=self.index,
                max_body_size=self.max_body_size,
            )
        )
        self.url = f"http://127.0.0.1:{http_port}"
        self._log = open(self.root / "influxd.log", "wb")  # noqa: SIM115 (closed in stop)
        self._executor = _Executor(
            [self.influxd, "-config", str(config)],
            url=f"{self.url}/ping",
            status="204",
            timeout=self.timeout,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._executor.start()
        logger.info("started influxd (pid %s) on %s", self.pid, self.url)

    def restart(self, *, down_for: float = 0.0) -> None:
        """Stop the server process and start it again, on the same port and data.

        What a client sees when a server restarts: refused connections for a
        while, then the same server with the same points.

        Parameters
        ----------
        down_for : float
            Seconds the server stays stopped before it starts again.

        Raises
        ------
        LocalServerError
            When the server is not running, or does not come back.
        """
        if not self.running:
            raise LocalServerError("the server is not running: start() it before restart()")
        if down_for < 0:
            raise ValueError(f"down_for must be 0 or more seconds, not {down_for!r}")

        self._executor.stop()
        logger.info("stopped influxd on %s for %.1f s", self.url, down_for)
        time.sleep(down_for)
        try:
            self._executor.start()
        except (TimeoutExpired, ProcessExitedWithError, AlreadyRunning) as exc:
            raise LocalServerError(
                f"influxd did not start again on {self.url}: {exc}. "
                f"Its last output:\n{self._read_log()}"
            ) from exc
        logger.info("started influxd again (pid %s) on %s", self.pid, self.url)

    def _create_database(self) -> None:
        import requests

        answer = requests.post(
            f"{self.url}/query", data={"q": f'CREATE DATABASE "{self.database}"'}, timeout=30
        )
        if answer.status_code != 200 or "error" in answer.text:
            raise LocalServerError(f"could not create database {self.database}: {answer.text}")

    def last_output(self) -> str:
        """The end of what influxd printed, to tell why it stopped."""
        return self._read_log()

    def _read_log(self) -> str:
        if self.root is None or not (self.root / "influxd.log").exists():
            return ""
        return (self.root / "influxd.log").read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        """Stop the server and delete its folder, data included."""
        atexit.unregister(self.stop)
        if self._executor is not None and self._executor.running():
            self._executor.stop()
            logger.info("stopped influxd on %s", self.url)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._executor is not None:
            self._executor = None
            self._log.close()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __repr__(self) -> str:
        state = f"running on {self.url}" if self.running else "stopped"
        return f"<LocalInfluxDB {state}>"
