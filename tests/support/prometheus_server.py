"""A real Prometheus server on 127.0.0.1 for tests, and its HTTP API.

It runs the installed `prometheus` binary (Debian's 2.42) with a config the test writes, a port chosen free at
run time and its own data directory; `stop()` ends it by the PID it was started with.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.support.pipeline import free_port

#: Seconds Prometheus may take to load its config and answer /-/ready.
START_TIMEOUT = 30.0


class PrometheusUnavailable(Exception):
    """The prometheus binary is missing or did not start; the message says why."""


class QueryFailed(Exception):
    """Prometheus refused a query (a parse error, a bad function): the message is its error."""


class PrometheusServer:
    def __init__(self, config: dict[str, Any]) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="hp-prometheus-"))
        self.config_path = self.directory / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.directory / "prometheus.log"

    def start(self) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise PrometheusUnavailable("no prometheus binary: apt-get install --no-install-recommends prometheus")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [binary, f"--config.file={self.config_path}", f"--storage.tsdb.path={self.directory / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PrometheusUnavailable(f"prometheus exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise PrometheusUnavailable(f"prometheus not ready within {START_TIMEOUT}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)

    def log_tail(self, size: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else "(no log)"

    # --- the HTTP API ---

    def api(self, path: str, **params: str | float) -> Any:
        """GET /api/v1/{path}; the `data` of a success, QueryFailed with Prometheus's error otherwise."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            body = json.load(error)
        if body.get("status") != "success":
            raise QueryFailed(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.api("query", query=expr)["result"])

    def query_range(self, expr: str, start: float, end: float, step: float = 1.0) -> list[dict[str, Any]]:
        return list(self.api("query_range", query=expr, start=start, end=end, step=step)["result"])

    def value(self, expr: str) -> float | None:
        """The single value of an instant query, or None when it returns no series."""
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, description: str, check: Callable[[], bool], timeout: float) -> None:
        """Poll `check` (after each scrape) until it holds; AssertionError naming `description` after `timeout`."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus never showed {description} within {timeout}s")
            time.sleep(0.5)
