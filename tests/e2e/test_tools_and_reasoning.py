"""Tool calls and R1 reasoning through the OpenAI client. The tiny model's weights are random, so it never
writes a tool call or </think> by itself: these tests check what the server controls - tools and tool results
reach the prompt in DeepSeek's format, responses stay well-formed with the parsers on, tool_choice is
validated, and R1 output is returned as reasoning_content. The parsing of generated tool calls and
reasoning, streamed and whole, is tested in C++ (tests/server/test_output_parser.cpp)."""
import json

import openai
import pytest

from conftest import REPO

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
TOOL_CALL_BEGIN = 128808  # <｜tool▁call▁begin｜>
TOOL_OUTPUT_BEGIN = 128812  # <｜tool▁output▁begin｜>


@pytest.fixture(scope="module")
def tool_server(start_server):
    return start_server("--tool-call-parser", "deepseekv3")


@pytest.fixture(scope="module")
def tool_client(tool_server):
    return openai.OpenAI(base_url=tool_server.base_url + "/v1", api_key="unused", max_retries=0)


def test_requests_with_tools_get_well_formed_answers(tool_client):
    for stream in (False, True):
        response = tool_client.chat.completions.create(model="dsv3-tiny-fullvocab", tools=TOOLS, tool_choice="auto",
                                                       messages=[{"role": "user", "content": "Weather in Paris?"}],
                                                       temperature=0, max_tokens=8, stream=stream)
        if stream:
            chunks = list(response)
            finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
            assert finish == ["length"]
        else:
            assert response.choices[0].finish_reason == "length"
            assert response.choices[0].message.tool_calls is None
            assert response.choices[0].message.content


def test_tool_calls_and_results_reach_the_prompt(tool_server, tool_client):
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"celsius": 21}'},
    ]
    status, tokenized = tool_server.request("POST", "/v1/tokenize", {"messages": messages})
    assert status == 200
    assert TOOL_CALL_BEGIN in tokenized["tokens"] and TOOL_OUTPUT_BEGIN in tokenized["tokens"]
    status, text = tool_server.request("POST", "/v1/detokenize", {"tokens": tokenized["tokens"]})
    assert 'get_weather\n```json\n{"city": "Paris"}\n```' in text["text"] and '{"celsius": 21}' in text["text"]
    response = tool_client.chat.completions.create(model="dsv3-tiny-fullvocab", tools=TOOLS, messages=messages,
                                                   temperature=0, max_tokens=4)
    assert response.usage.prompt_tokens == tokenized["count"]


def test_tool_choice_is_validated(tool_client, server):
    with pytest.raises(openai.BadRequestError, match="not in 'tools'"):
        tool_client.chat.completions.create(model="dsv3-tiny-fullvocab", tools=TOOLS, max_tokens=2,
                                            tool_choice={"type": "function", "function": {"name": "nope"}},
                                            messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError, match="tool_choice"):
        tool_client.chat.completions.create(model="dsv3-tiny-fullvocab", tool_choice="required", max_tokens=2,
                                            messages=[{"role": "user", "content": "x"}])
    for forced in ("required", {"type": "function", "function": {"name": "get_weather"}}):
        with pytest.raises(openai.BadRequestError, match="constrained decoding"):
            tool_client.chat.completions.create(model="dsv3-tiny-fullvocab", tools=TOOLS, tool_choice=forced,
                                                max_tokens=2, messages=[{"role": "user", "content": "x"}])
    # A server started without --tool-call-parser says so instead of returning raw tool-call text.
    status, body = server.request("POST", "/v1/chat/completions", {"tools": TOOLS, "max_tokens": 2,
                                                                   "messages": [{"role": "user", "content": "x"}]})
    assert status == 400 and "--tool-call-parser" in body["error"]["message"]


def test_r1_reasoning_is_returned_as_reasoning_content(start_server):
    template = str(REPO / "testdata" / "templates" / "deepseek-r1.jinja")
    r1 = start_server("--chat-template", template, "--reasoning-parser", "deepseek-r1")
    client = openai.OpenAI(base_url=r1.base_url + "/v1", api_key="unused", max_retries=0)
    messages = [{"role": "user", "content": "What is 2 + 2?"}]
    status, tokenized = r1.request("POST", "/v1/tokenize", {"messages": messages})
    status, text = r1.request("POST", "/v1/detokenize", {"tokens": tokenized["tokens"]})
    assert text["text"].endswith("<｜Assistant｜><think>\n")  # R1's template opens the think block
    raw = client.completions.create(model="dsv3-tiny-fullvocab", prompt=tokenized["tokens"], temperature=0, max_tokens=12)
    chat = client.chat.completions.create(model="dsv3-tiny-fullvocab", messages=messages, temperature=0, max_tokens=12)
    # The random model never closes </think>: all of its output is reasoning, none is the answer.
    assert chat.choices[0].message.model_extra["reasoning_content"] == raw.choices[0].text.strip()
    assert not chat.choices[0].message.content
    streamed = list(client.chat.completions.create(model="dsv3-tiny-fullvocab", messages=messages, temperature=0,
                                                   max_tokens=12, stream=True))
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
                        for c in streamed if c.choices)
    assert reasoning == raw.choices[0].text.strip()
    # separate_reasoning: false gives the raw text back as content.
    joined = client.chat.completions.create(model="dsv3-tiny-fullvocab", messages=messages, temperature=0, max_tokens=12,
                                            extra_body={"separate_reasoning": False})
    assert joined.choices[0].message.content == raw.choices[0].text
