"""The command line around the server: `dsinfer generate` streams the same text the server returns, and
`dsinfer serve` refuses options that cannot work, with a message that says why."""
import subprocess
import time

from conftest import FIXTURES, chat_greedy_rows


def test_generate_chat_reproduces_the_reference(dsinfer_binary):
    row = chat_greedy_rows()[0]
    assert row["messages"] == [{"role": "user", "content": "Hello!"}]
    result = subprocess.run([dsinfer_binary, "generate", "--chat", "Hello!", "--temperature", "0", "--max-tokens", "16"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == row["completion_text"] + "\n"
    assert "16 generated, finish_reason length" in result.stderr


def test_generate_without_a_prompt_says_what_is_missing(dsinfer_binary):
    result = subprocess.run([dsinfer_binary, "generate"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "--prompt" in result.stderr


def serve_error(dsinfer_binary, *args):
    result = subprocess.run([dsinfer_binary, "serve", "--port", "0", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    return result.stderr


def test_serve_refuses_quantizing_an_fp8_checkpoint(dsinfer_binary):
    message = serve_error(dsinfer_binary, "--model", str(FIXTURES / "dsv3-tiny-fp8"), "--quantization", "fp8")
    assert "already an FP8 checkpoint" in message


def test_serve_refuses_unusable_options(dsinfer_binary):
    assert "deepseek-r1" in serve_error(dsinfer_binary, "--reasoning-parser", "qwen3")
    assert "--context-length" in serve_error(dsinfer_binary, "--context-length", "999999999")
    assert "config.json" in serve_error(dsinfer_binary, "--model", "/nonexistent")
    assert "--mem-fraction-static" in serve_error(dsinfer_binary, "--mem-fraction-static", "1.5")


def test_overload_gets_503_with_retry_after(start_server):
    import json
    import socket
    server = start_server("--max-running-requests", "1", "--max-queued-requests", "1")
    body = json.dumps({"messages": [{"role": "user", "content": "x"}], "max_tokens": 100000, "ignore_eos": True,
                       "stream": True}).encode()
    holders = []
    for _ in range(2):  # one running, one queued
        connection = socket.create_connection(("127.0.0.1", server.port))
        connection.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        connection.recv(100)  # the stream has started
        holders.append(connection)
    for _ in range(500):
        if server.metrics()["dsinfer_num_queued_requests"] == 1:
            break
        time.sleep(0.01)
    status, error = server.request("POST", "/v1/chat/completions",
                                   {"messages": [{"role": "user", "content": "x"}], "max_tokens": 1})
    assert status == 503 and "overloaded" in error["error"]["message"]
    for connection in holders:
        connection.close()
