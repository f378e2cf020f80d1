"""Starts real `dsinfer serve` processes on loopback for the end-to-end tests.

Run by ctest (`e2e_openai`) as `python -m pytest tests/e2e --dsinfer build/src/cli/dsinfer`.
"""
import json
import os
import pathlib
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = REPO / "testdata" / "fixtures"
TINY_MODEL = FIXTURES / "dsv3-tiny-fullvocab"


def pytest_addoption(parser):
    parser.addoption("--dsinfer", default=str(REPO / "build" / "src" / "cli" / "dsinfer"),
                     help="path of the dsinfer binary under test")


class Server:
    """One `dsinfer serve` process on 127.0.0.1 and an ephemeral port."""

    def __init__(self, binary, *args, log_path):
        self.log_path = log_path
        self.log = open(log_path, "w+")
        self.process = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", "0", *args],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.port = self._wait_for_port()
        self.base_url = f"http://127.0.0.1:{self.port}"

    def _wait_for_port(self):
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dsinfer serve exited with {self.process.returncode}:\n{self.output()}")
            match = re.search(r"on http://127\.0\.0\.1:(\d+)", self.output())
            if match:
                return int(match.group(1))
            time.sleep(0.05)
        raise RuntimeError(f"dsinfer serve did not start:\n{self.output()}")

    def output(self):
        return pathlib.Path(self.log_path).read_text(errors="replace")

    def request(self, method, path, body=None, headers=None, raw=None, timeout=60):
        """Returns (status, parsed JSON or text). `raw` sends bytes as they are."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        all_headers = {"Content-Type": "application/json"} if data is not None else {}
        all_headers.update(headers or {})
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        try:
            return status, json.loads(text)
        except json.JSONDecodeError:
            return status, text

    def metrics(self):
        status, text = self.request("GET", "/metrics", headers=getattr(self, "auth_headers", None))
        assert status == 200, text
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name.split("{")[0] if "le=" not in name else name] = float(value)
        return values

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


@pytest.fixture(scope="session")
def dsinfer_binary(request):
    binary = request.config.getoption("--dsinfer")
    if not os.access(binary, os.X_OK):
        pytest.fail(f"dsinfer binary not found at {binary} (build it, or pass --dsinfer PATH)")
    return binary


@pytest.fixture(scope="session")
def start_server(dsinfer_binary, tmp_path_factory):
    """Factory: start_server(*flags) -> Server, stopped at the end of the session."""
    servers = []

    def start(*args):
        log = tmp_path_factory.mktemp("server") / "serve.log"
        server = Server(dsinfer_binary, *args, log_path=str(log))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def server(start_server):
    """The embedded default model (dsv3-tiny-fullvocab) with default settings."""
    return start_server("--max-request-bytes", str(1 << 20))


@pytest.fixture(scope="session")
def client(server):
    import openai
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key="unused", max_retries=0, timeout=120)


def chat_greedy_rows():
    with open(TINY_MODEL / "chat-greedy.jsonl") as rows:
        return [json.loads(line) for line in rows]
