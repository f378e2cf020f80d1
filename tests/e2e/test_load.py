"""A bounded load test on loopback: 200 concurrent streaming requests, each output checked (the 1,000-stream
version is bench/server/load_test.py)."""
import asyncio
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench" / "server"))
from load_test import run_load  # noqa: E402


def test_200_concurrent_streams_all_complete_correctly(server):
    result = asyncio.run(run_load(server.base_url, streams=200))
    assert result["streams"] == 200
    assert result["seconds"] < 120
    metrics = server.metrics()
    assert metrics["dsinfer_num_running_requests"] == 0 and metrics["dsinfer_kv_pages_request"] == 0
    assert metrics["dsinfer_http_open_streams"] == 0
