"""Connection and process life cycle: a client that disconnects mid-stream frees its KV pages at once, the API
key guards every route but /health, SIGTERM drains in-flight requests before the server exits, and a model step
that outruns --watchdog-timeout ends the process with status 1."""
import json
import signal
import socket
import threading
import time

import openai
import pytest


def raw_post(port, path, body, headers=""):
    connection = socket.create_connection(("127.0.0.1", port))
    data = json.dumps(body).encode()
    connection.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}"
                       f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return connection


def read_until(connection, marker, limit=1 << 20):
    received = b""
    while marker not in received and len(received) < limit:
        piece = connection.recv(65536)
        if not piece:
            break
        received += piece
    return received


def read_events(connection, count):
    """Reads until `count` server-sent events have arrived (each is its own HTTP chunk)."""
    received = b""
    while received.count(b"data: ") < count:
        piece = connection.recv(65536)
        assert piece, received
        received += piece
    return received


def eventually(condition, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


LONG = {"messages": [{"role": "user", "content": "Go on forever."}], "max_tokens": 100000, "ignore_eos": True}


@pytest.mark.parametrize("stream", [True, False])
def test_client_disconnect_frees_its_pages(server, stream):
    before = server.metrics()
    connection = raw_post(server.port, "/v1/chat/completions", dict(LONG, stream=stream))
    if stream:
        read_events(connection, 4)  # a few tokens in: decoding
    assert eventually(lambda: server.metrics()["dsinfer_num_running_requests"] == 1)
    live = server.metrics()["dsinfer_kv_pages_request"]
    assert live >= 1
    connection.close()
    # Aborted within a scheduler step: nothing running, no page held by a request any more.
    assert eventually(lambda: server.metrics()["dsinfer_num_running_requests"] == 0, seconds=5)
    after = server.metrics()
    assert after["dsinfer_kv_pages_request"] == 0
    assert after["dsinfer_http_client_disconnects_total"] == before["dsinfer_http_client_disconnects_total"] + 1
    assert after["dsinfer_requests_aborted_total"] == before["dsinfer_requests_aborted_total"] + 1
    assert after["dsinfer_http_open_streams"] == 0


def test_api_key_guards_every_route_but_health(start_server):
    server = start_server("--api-key", "s3cret-key")
    server.auth_headers = {"Authorization": "Bearer s3cret-key"}
    assert server.request("GET", "/health")[0] == 200
    for path in ("/v1/models", "/metrics", "/get_model_info", "/health_generate", "/nope"):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer S3CRET-KEY"},
                        {"Authorization": "s3cret-key"}, {"Authorization": "Bearer s3cret-key2"}):
            status, body = server.request("GET", path, headers=headers)
            assert status == 401 and body["error"]["code"] == "invalid_api_key", (path, headers)
    assert server.request("GET", "/v1/models", headers=server.auth_headers)[0] == 200
    client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="s3cret-key", max_retries=0)
    assert client.chat.completions.create(model="dsv3-tiny-fullvocab", max_tokens=2,
                                          messages=[{"role": "user", "content": "hi"}]).choices[0].message.content
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.base_url + "/v1", api_key="bad", max_retries=0).models.list()


def test_sigterm_lets_in_flight_requests_finish(start_server):
    server = start_server()
    client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="unused", max_retries=0)
    received = []

    def consume():
        stream = client.chat.completions.create(model="dsv3-tiny-fullvocab", stream=True, max_tokens=400,
                                                extra_body={"ignore_eos": True},
                                                messages=[{"role": "user", "content": "Keep going."}])
        for chunk in stream:
            received.append(chunk)

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert eventually(lambda: len(received) >= 2)
    server.process.send_signal(signal.SIGTERM)
    consumer.join(timeout=60)
    assert server.process.wait(timeout=30) == 0
    finals = [chunk.choices[0].finish_reason for chunk in received if chunk.choices and chunk.choices[0].finish_reason]
    assert finals == ["length"]
    assert sum(1 for chunk in received if chunk.choices and chunk.choices[0].delta.content) >= 300
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2)
    assert "shutting down" in server.output()


def test_sigterm_aborts_what_outlives_the_drain_timeout(start_server):
    server = start_server("--shutdown-timeout", "0.5")
    connection = raw_post(server.port, "/v1/chat/completions", dict(LONG, stream=True))
    read_events(connection, 3)
    started = time.time()
    server.process.send_signal(signal.SIGTERM)
    rest = read_until(connection, b"0\r\n\r\n")
    assert server.process.wait(timeout=30) == 0
    assert time.time() - started < 10
    # The stream ends with an error event, never with a [DONE] that would pretend it completed.
    assert b'"error"' in rest and b"shutting down" in rest and b"[DONE]" not in rest


def test_a_step_slower_than_the_watchdog_timeout_ends_the_server(start_server):
    # Every step of the tiny model takes far more than 1 ms once the prompt is long: taken for a hung device.
    server = start_server("--watchdog-timeout", "0.001")
    assert server.request("GET", "/health")[0] == 200
    try:
        server.request("POST", "/v1/completions", {"prompt": "word " * 2000, "max_tokens": 4}, timeout=30)
    except OSError:
        pass  # the connection may die with the process
    assert server.process.wait(timeout=30) == 1
    assert "--watchdog-timeout" in server.output() and "exiting" in server.output()
