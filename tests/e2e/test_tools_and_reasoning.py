"""Tool calls and R1 reasoning through the OpenAI client. The tiny model's weights are random, so it never
writes a tool call or </think> by itself: these tests check what the server controls - tools and tool results
reach the prompt in DeepSeek's format, responses stay well-formed with the parsers on, tool_choice is
validated, "required" / a named function force a call (the turn starts with the tool-call opening) and "none"
drops the tools, and R1 output is returned as reasoning_content. The parsing of generated tool calls and
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
    # A server started without --tool-call-parser says so instead of returning raw tool-call text.
    status, body = server.request("POST", "/v1/chat/completions", {"tools": TOOLS, "max_tokens": 2,
                                                                   "messages": [{"role": "user", "content": "x"}]})
    assert status == 400 and "--tool-call-parser" in body["error"]["message"]


TWO_TOOLS = TOOLS + [{"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}]
NAMED = {"type": "function", "function": {"name": "get_weather"}}
WEATHER = [{"role": "user", "content": "Weather in Paris?"}]
EOS = 1
CALL_OPENING = "<｜tool▁call▁begin｜>function<｜tool▁sep｜>"  # the part of the forced opening a cut-off call returns


@pytest.mark.parametrize("tools, tool_choice", [(TOOLS, NAMED), (TWO_TOOLS, NAMED), (TOOLS, "required")])
def test_a_forced_tool_call_names_the_function(tool_client, tools, tool_choice):
    # The random model never closes the call, so max_tokens cuts it: finish_reason "length", the call holds the
    # forced name and whatever argument text was written.
    response = tool_client.chat.completions.create(model="dsv3-tiny-fullvocab", tools=tools, tool_choice=tool_choice,
                                                   messages=WEATHER, temperature=0, max_tokens=8)
    choice = response.choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.content is None
    assert [call.function.name for call in choice.message.tool_calls] == ["get_weather"]
    assert choice.message.tool_calls[0].type == "function" and choice.message.tool_calls[0].id
    assert response.usage.completion_tokens == 8

    # Streamed: the call's name comes first (before any generated token needed it), then the same arguments.
    chunks = list(tool_client.chat.completions.create(model="dsv3-tiny-fullvocab", tools=tools, tool_choice=tool_choice,
                                                      messages=WEATHER, temperature=0, max_tokens=8, stream=True))
    deltas = [call for chunk in chunks if chunk.choices and chunk.choices[0].delta.tool_calls
              for call in chunk.choices[0].delta.tool_calls]
    assert deltas[0].function.name == "get_weather" and deltas[0].id
    assert "".join(delta.function.arguments or "" for delta in deltas) == choice.message.tool_calls[0].function.arguments
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["length"]


def test_a_forced_call_the_model_ends_has_finish_reason_tool_calls(tool_client):
    # logit_bias makes the model end its turn (EOS) right after the forced opening: a complete call, no arguments.
    response = tool_client.chat.completions.create(model="dsv3-tiny-fullvocab", tools=TOOLS, tool_choice=NAMED,
                                                   messages=WEATHER, max_tokens=8, logit_bias={str(EOS): 100}, n=2,
                                                   seed=3)
    for choice in response.choices:
        assert choice.finish_reason == "tool_calls"
        assert choice.message.tool_calls[0].function.name == "get_weather"
        assert choice.message.tool_calls[0].function.arguments == ""
    assert response.choices[0].message.tool_calls[0].id != response.choices[1].message.tool_calls[0].id


def test_required_with_several_tools_lets_the_model_write_the_name(tool_client):
    # Cut off (here by EOS at once) before the model wrote a name: no call, the call's text comes back as content.
    response = tool_client.chat.completions.create(model="dsv3-tiny-fullvocab", tools=TWO_TOOLS, tool_choice="required",
                                                   messages=WEATHER, max_tokens=4, logit_bias={str(EOS): 100})
    assert response.choices[0].finish_reason == "stop"
    assert response.choices[0].message.tool_calls is None
    assert response.choices[0].message.content == CALL_OPENING
    free = tool_client.chat.completions.create(model="dsv3-tiny-fullvocab", tools=TWO_TOOLS, tool_choice="required",
                                               messages=WEATHER, temperature=0, max_tokens=6)
    message = free.choices[0].message
    assert free.choices[0].finish_reason == "length"
    if message.tool_calls:  # the model ended a name (any text) with a newline
        assert message.content is None and len(message.tool_calls) == 1
    else:
        assert message.content.startswith(CALL_OPENING)


def test_tool_choice_none_leaves_the_tools_out_of_the_prompt(start_server, tmp_path):
    # DeepSeek-V3's own template does not list tools; this one does.
    template = tmp_path / "lists-tools.jinja"
    template.write_text("{{ bos_token }}{% if tools %}Tools:{% for tool in tools %} {{ tool['function']['name'] }}"
                        "{% endfor %}\n{% endif %}{% for message in messages %}<｜User｜>{{ message['content'] }}"
                        "{% endfor %}<｜Assistant｜>")
    server = start_server("--tool-call-parser", "deepseekv3", "--chat-template", str(template))
    client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="unused", max_retries=0)
    without = client.chat.completions.create(model="dsv3-tiny-fullvocab", messages=WEATHER, temperature=0, max_tokens=4)
    none = client.chat.completions.create(model="dsv3-tiny-fullvocab", tools=TOOLS, tool_choice="none",
                                          messages=WEATHER, temperature=0, max_tokens=4)
    auto = client.chat.completions.create(model="dsv3-tiny-fullvocab", tools=TOOLS, messages=WEATHER, temperature=0,
                                          max_tokens=4)
    assert none.usage.prompt_tokens == without.usage.prompt_tokens < auto.usage.prompt_tokens
    assert none.choices[0].message.content == without.choices[0].message.content
    assert none.choices[0].message.tool_calls is None


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
