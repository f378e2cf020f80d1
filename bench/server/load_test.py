#!/usr/bin/env python3
"""Loopback load test for `dsinfer serve`: N concurrent streaming chat completions (official OpenAI client,
asyncio), every one checked against the greedy output of its prompt, then requests/s, tokens/s, time to
first token, and the scheduler's own per-step overhead from /metrics.

    .venv/bin/python bench/server/load_test.py --dsinfer build/src/cli/dsinfer --streams 1000

Starts its own server on 127.0.0.1 (or use --base-url for a running one). Also imported by
tests/e2e/test_load.py for the smaller ctest version.
"""
import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import httpx
import openai

PROMPTS = [f"Request {i}: say something about the number {i * 7}." for i in range(8)]


def metrics(base_url):
    with urllib.request.urlopen(base_url + "/metrics") as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "le=" not in line:
            name, value = line.rsplit(" ", 1)
            values[name.split("{")[0]] = float(value)
    return values


async def run_load(base_url, streams, max_tokens=16, model="dsv3-tiny-fullvocab"):
    """Returns a dict of results; raises AssertionError on any wrong or missing output."""
    limits = httpx.Limits(max_connections=streams + 16, max_keepalive_connections=streams + 16)
    client = openai.AsyncOpenAI(base_url=base_url + "/v1", api_key="unused", max_retries=0, timeout=600,
                                http_client=openai.DefaultAsyncHttpxClient(limits=limits, timeout=600))
    expected = {}
    for prompt in PROMPTS:
        response = await client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}],
                                                        temperature=0, max_tokens=max_tokens)
        expected[prompt] = response.choices[0].message.content
    before = metrics(base_url)

    async def one(index):
        prompt = PROMPTS[index % len(PROMPTS)]
        started = time.perf_counter()
        first_token = None
        pieces = []
        finish = None
        stream = await client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}],
                                                      temperature=0, max_tokens=max_tokens, stream=True)
        async for chunk in stream:
            if not chunk.choices:
                continue
            if chunk.choices[0].delta.content:
                if first_token is None:
                    first_token = time.perf_counter() - started
                pieces.append(chunk.choices[0].delta.content)
            finish = chunk.choices[0].finish_reason or finish
        text = "".join(pieces)
        assert text == expected[prompt], f"stream {index}: {text!r} != {expected[prompt]!r}"
        assert finish == "length", f"stream {index}: finish_reason {finish}"
        return first_token

    started = time.perf_counter()
    first_tokens = await asyncio.gather(*(one(index) for index in range(streams)))
    elapsed = time.perf_counter() - started
    await client.close()
    after = metrics(base_url)
    steps = after["dsinfer_scheduler_overhead_seconds_count"] - before["dsinfer_scheduler_overhead_seconds_count"]
    overhead = after["dsinfer_scheduler_overhead_seconds_sum"] - before["dsinfer_scheduler_overhead_seconds_sum"]
    overhead_cpu = (after["dsinfer_scheduler_overhead_cpu_seconds_sum"] -
                    before["dsinfer_scheduler_overhead_cpu_seconds_sum"])
    forward = after["dsinfer_forward_seconds_sum"] - before["dsinfer_forward_seconds_sum"]
    first_tokens.sort()
    return {
        "streams": streams,
        "seconds": elapsed,
        "requests_per_second": streams / elapsed,
        "output_tokens_per_second": streams * max_tokens / elapsed,
        "ttft_p50_seconds": statistics.median(first_tokens),
        "ttft_p99_seconds": first_tokens[int(0.99 * (len(first_tokens) - 1))],
        "steps": int(steps),
        "scheduler_overhead_per_step_ms": 1000 * overhead / max(steps, 1),
        "scheduler_overhead_cpu_per_step_ms": 1000 * overhead_cpu / max(steps, 1),
        "forward_per_step_ms": 1000 * forward / max(steps, 1),
        "preemptions": after["dsinfer_preemptions_total"] - before["dsinfer_preemptions_total"],
    }


def start_server(binary, extra):
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    process = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", "0", *extra], stdout=log,
                               stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        match = re.search(r"on http://127\.0\.0\.1:(\d+)", open(log.name).read())
        if match:
            return process, f"http://127.0.0.1:{match.group(1)}"
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError("server did not start:\n" + open(log.name).read())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsinfer", default="build/src/cli/dsinfer")
    parser.add_argument("--base-url", help="use a running server instead of starting one")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--server-args", default="", help="extra flags for dsinfer serve")
    args = parser.parse_args()
    process = None
    base_url = args.base_url
    if not base_url:
        process, base_url = start_server(args.dsinfer, args.server_args.split())
    try:
        result = asyncio.run(run_load(base_url, args.streams, args.max_tokens))
    finally:
        if process:
            process.terminate()
            process.wait()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
