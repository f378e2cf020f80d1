"""Every bad-input case of issue 4 point 4: a 4xx status, an OpenAI-shaped error naming the parameter, and the
next good request still succeeds."""
import json

import pytest

CHAT = "/v1/chat/completions"
GOOD = {"model": "dsv3-tiny-fullvocab", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


def expect_error(server, status, response, param=None, code=None, mentions=()):
    actual_status, body = response
    assert actual_status == status, body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] == ("not_found_error" if status == 404 else "authentication_error" if status == 401
                             else "invalid_request_error")
    if param is not None:
        assert error["param"] == param, error
    if code is not None:
        assert error["code"] == code, error
    for text in mentions:
        assert text in error["message"], error
    # The server is still up and serving.
    good_status, good = server.request("POST", CHAT, GOOD)
    assert good_status == 200 and good["choices"][0]["message"]["content"], good


def with_fields(**fields):
    body = dict(GOOD)
    body.update(fields)
    return body


def test_malformed_json(server):
    expect_error(server, 400, server.request("POST", CHAT, raw=b'{"messages": [{"role": "user", "content": "hi"}'),
                 code="invalid_json")
    expect_error(server, 400, server.request("POST", CHAT, raw=b'[1, 2, 3]'))
    expect_error(server, 400, server.request("POST", CHAT, raw=b'{"messages": "\xff\xfe"}'), code="invalid_json")
    expect_error(server, 400, server.request("POST", CHAT, raw=b"[" * 100000), code="invalid_json")


def test_wrong_content_type(server):
    expect_error(server, 415, server.request("POST", CHAT, raw=json.dumps(GOOD).encode(),
                                             headers={"Content-Type": "text/plain"}), code="unsupported_media_type")


def test_oversized_body(server):
    # The session's server accepts at most 1 MiB.
    body = with_fields(messages=[{"role": "user", "content": "x" * (2 << 20)}])
    expect_error(server, 413, server.request("POST", CHAT, body), mentions=["bytes"])


@pytest.mark.parametrize("messages, param", [
    ([], "messages"),
    ("hello", "messages"),
    ([{"content": "no role"}], "messages[0].role"),
    ([{"role": "wizard", "content": "x"}], "messages[0].role"),
    ([{"role": "user", "content": 42}], "messages[0].content"),
    ([{"role": "user"}], "messages[0].content"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://169.254.169.254/"}}]}],
     "messages[0].content[0].type"),
    (["not an object"], "messages[0]"),
])
def test_empty_or_malformed_messages(server, messages, param):
    expect_error(server, 400, server.request("POST", CHAT, with_fields(messages=messages)), param=param)


def test_missing_messages(server):
    body = dict(GOOD)
    del body["messages"]
    expect_error(server, 400, server.request("POST", CHAT, body), param="messages")


def test_unknown_model(server):
    expect_error(server, 404, server.request("POST", CHAT, with_fields(model="gpt-4o")), param="model",
                 code="model_not_found", mentions=["gpt-4o"])


def test_prompt_plus_max_tokens_over_the_context(server):
    expect_error(server, 400, server.request("POST", CHAT, with_fields(max_tokens=163837)), param="max_tokens",
                 code="context_length_exceeded", mentions=["163840", "163837", "in the prompt"])
    long_prompt = [5] * 163840  # small ids keep the body under the 1 MiB limit
    expect_error(server, 400, server.request("POST", "/v1/completions", {"prompt": long_prompt, "max_tokens": 1}),
                 code="context_length_exceeded", mentions=["163840"])


@pytest.mark.parametrize("field, value", [
    ("temperature", -0.5), ("temperature", 1000), ("temperature", "hot"), ("top_p", 0), ("top_p", 1.5),
    ("top_k", -5), ("min_p", 2), ("presence_penalty", 3), ("frequency_penalty", -2.5), ("repetition_penalty", 0),
    ("max_tokens", 0), ("max_tokens", -1), ("max_tokens", 2 ** 63), ("seed", "abc"), ("min_tokens", 5),
])
def test_out_of_range_sampling_parameters(server, field, value):
    expect_error(server, 400, server.request("POST", CHAT, with_fields(**{field: value})), param=field)


def test_nan_and_infinity(server):
    # JSON has no NaN: Python's json writes a bare NaN, which is not valid JSON.
    raw = json.dumps(with_fields(temperature=float("nan"))).encode()
    expect_error(server, 400, server.request("POST", CHAT, raw=raw), code="invalid_json")
    # 1e999 is valid JSON syntax but no double: refused while parsing.
    raw = json.dumps(GOOD)[:-1].encode() + b', "top_p": 1e999}'
    expect_error(server, 400, server.request("POST", CHAT, raw=raw), code="invalid_json")
    expect_error(server, 400, server.request("POST", CHAT, with_fields(temperature=1e308)), param="temperature")


def test_n_or_top_logprobs_too_large(server):
    expect_error(server, 400, server.request("POST", CHAT, with_fields(n=10 ** 9)), param="n")
    expect_error(server, 400, server.request("POST", CHAT, with_fields(logprobs=True, top_logprobs=21)),
                 param="top_logprobs")
    expect_error(server, 400, server.request("POST", CHAT, with_fields(top_logprobs=3)), param="top_logprobs")


@pytest.mark.parametrize("prompt", [[0, 129280], [-1, 5], [[1, 2], [3, 10 ** 12]]])
def test_token_ids_outside_the_vocabulary(server, prompt):
    expect_error(server, 400, server.request("POST", "/v1/completions", {"prompt": prompt, "max_tokens": 1}),
                 param="prompt", mentions=["outside the vocabulary"])


def test_out_of_vocabulary_ids_elsewhere(server):
    expect_error(server, 400, server.request("POST", CHAT, with_fields(stop_token_ids=[999999])), param="stop_token_ids")
    expect_error(server, 400, server.request("POST", CHAT, with_fields(logit_bias={"999999": 1})), param="logit_bias")
    expect_error(server, 400, server.request("POST", CHAT, with_fields(logit_bias={"abc": 1})), param="logit_bias")
    expect_error(server, 400, server.request("POST", "/v1/detokenize", {"tokens": [5, -3]}), param="tokens")


def test_too_many_stop_strings(server):
    expect_error(server, 400, server.request("POST", CHAT, with_fields(stop=[f"s{i}" for i in range(17)])), param="stop")
    expect_error(server, 400, server.request("POST", CHAT, with_fields(stop=[""])), param="stop")
    expect_error(server, 400, server.request("POST", CHAT, with_fields(stop=["x" * 5000])), param="stop")


def test_too_many_prompts(server):
    expect_error(server, 400, server.request("POST", "/v1/completions", {"prompt": ["a"] * 1000, "max_tokens": 1}),
                 param="prompt")


def test_constrained_decoding_and_legacy_functions_are_refused(server):
    # Not implemented: refused rather than answered with text that ignores the constraint.
    expect_error(server, 400, server.request("POST", CHAT, with_fields(response_format={"type": "json_object"})),
                 param="response_format", code="unsupported_value")
    expect_error(server, 400, server.request("POST", "/v1/completions", {"prompt": "x", "regex": "(a+)+b"}),
                 param="regex", code="unsupported_value")
    expect_error(server, 400, server.request("POST", "/generate", {"text": "x", "sampling_params": {"json_schema": "{}"}}),
                 param="sampling_params.json_schema", code="unsupported_value")
    expect_error(server, 400, server.request("POST", CHAT, with_fields(functions=[{"name": "f"}])), param="functions",
                 code="unsupported_value", mentions=["tools"])
    status, body = server.request("POST", CHAT, with_fields(response_format={"type": "text"}))
    assert status == 200, body


def test_unknown_route_and_method(server):
    expect_error(server, 404, server.request("GET", "/v1/nothing-here"))
    status, body = server.request("GET", CHAT)
    assert status == 405 and body["error"]["code"] == "method_not_allowed"
