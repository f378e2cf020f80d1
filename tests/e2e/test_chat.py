"""Chat completions through the official OpenAI client: greedy output against the reference fixture,
streaming with usage and [DONE], n > 1, seeds, stop strings across token boundaries, logprobs."""
import json
import urllib.request

import pytest

from conftest import chat_greedy_rows

INJECTION = "injection attempt"


@pytest.mark.parametrize("row", chat_greedy_rows(), ids=lambda row: json.dumps(row["messages"])[:40])
def test_greedy_chat_reproduces_the_reference(client, server, row):
    # The fixture's prompt ids are exactly the template's text encoded by HF; the completion from those ids
    # must match whichever way the prompt reaches the model.
    completion = client.completions.create(model="dsv3-tiny-fullvocab", prompt=row["prompt_ids"], temperature=0,
                                           max_tokens=len(row["completion_ids"]))
    assert completion.choices[0].text == row["completion_text"]
    assert completion.usage.prompt_tokens == len(row["prompt_ids"])

    chat = client.chat.completions.create(model="dsv3-tiny-fullvocab", messages=row["messages"], temperature=0,
                                          max_tokens=len(row["completion_ids"]))
    if INJECTION in json.dumps(row["messages"], ensure_ascii=False):
        # Deliberate difference from HF: "<｜User｜>" typed by a user stays text, so the prompt differs.
        assert chat.usage.prompt_tokens > len(row["prompt_ids"])
        return
    assert chat.usage.prompt_tokens == len(row["prompt_ids"])
    assert chat.choices[0].message.content == row["completion_text"]
    assert chat.choices[0].finish_reason == ("length" if len(row["completion_ids"]) == 16 else "stop")
    assert chat.usage.completion_tokens == len(row["completion_ids"])


def test_streaming_matches_non_streaming_and_reports_usage(client, server):
    messages = [{"role": "user", "content": "Stream this, please."}]
    full = client.chat.completions.create(model="dsv3-tiny-fullvocab", messages=messages, temperature=0, max_tokens=20)
    stream = client.chat.completions.create(model="dsv3-tiny-fullvocab", messages=messages, temperature=0, max_tokens=20,
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == full.choices[0].message.content
    finals = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    assert finals == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 20
    assert chunks[-1].usage.prompt_tokens == full.usage.prompt_tokens
    assert all(chunk.usage is None for chunk in chunks[:-1])

    # On the wire: server-sent events, ending with data: [DONE].
    request = urllib.request.Request(server.base_url + "/v1/chat/completions", method="POST",
                                     headers={"Content-Type": "application/json"},
                                     data=json.dumps({"messages": messages, "max_tokens": 3, "stream": True}).encode())
    with urllib.request.urlopen(request) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        events = [line for line in response.read().decode().split("\n\n") if line]
    assert all(event.startswith("data: ") for event in events)
    assert events[-1] == "data: [DONE]"


def test_n_choices_are_distinct_samples_and_seeded(client):
    messages = [{"role": "user", "content": "Tell me something."}]
    def sample(seed):
        response = client.chat.completions.create(model="dsv3-tiny-fullvocab", messages=messages, n=3, seed=seed,
                                                  temperature=1.0, max_tokens=12)
        assert [choice.index for choice in response.choices] == [0, 1, 2]
        assert response.usage.completion_tokens == 36
        return [choice.message.content for choice in response.choices]
    first = sample(7)
    assert len(set(first)) == 3
    assert sample(7) == first
    assert sample(8) != first


def test_same_seed_same_output_streaming_or_not(client):
    messages = [{"role": "user", "content": "Seeded."}]
    kwargs = dict(model="dsv3-tiny-fullvocab", messages=messages, temperature=0.9, top_p=0.95, max_tokens=16)
    a = client.chat.completions.create(seed=1234, **kwargs).choices[0].message.content
    b = client.chat.completions.create(seed=1234, **kwargs).choices[0].message.content
    streamed = "".join(chunk.choices[0].delta.content or ""
                       for chunk in client.chat.completions.create(seed=1234, stream=True, **kwargs) if chunk.choices)
    c = client.chat.completions.create(seed=4321, **kwargs).choices[0].message.content
    assert a == b == streamed
    assert a != c


def test_stop_string_across_a_token_boundary(client):
    messages = [{"role": "user", "content": "Hello!"}]
    reference = client.chat.completions.create(model="dsv3-tiny-fullvocab", messages=messages, temperature=0,
                                               max_tokens=16, logprobs=True)
    tokens = [entry.token for entry in reference.choices[0].logprobs.content]
    text = reference.choices[0].message.content
    # The last character of token 2 and the first two of token 3: only visible once token 3 arrives.
    stop = tokens[2][-1:] + tokens[3][:2]
    cut = text.find(stop)
    assert cut > 0
    for stream in (False, True):
        response = client.chat.completions.create(model="dsv3-tiny-fullvocab", messages=messages, temperature=0,
                                                  max_tokens=16, stop=[stop, "never-appears"], stream=stream)
        if stream:
            chunks = list(response)
            content = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
            finish = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
        else:
            content, finish = response.choices[0].message.content, [response.choices[0].finish_reason]
        assert content == text[:cut]
        assert finish == ["stop"]


def test_logprobs_are_sorted_log_probabilities(client):
    response = client.chat.completions.create(model="dsv3-tiny-fullvocab", temperature=0, max_tokens=8, logprobs=True,
                                              top_logprobs=5, messages=[{"role": "user", "content": "Hi"}])
    entries = response.choices[0].logprobs.content
    assert len(entries) == 8
    joined = b"".join(bytes(entry.bytes) for entry in entries).decode(errors="replace")
    assert joined == response.choices[0].message.content
    for entry in entries:
        top = [alternative.logprob for alternative in entry.top_logprobs]
        assert len(top) == 5 and top == sorted(top, reverse=True) and all(value <= 0 for value in top)
        assert entry.logprob == pytest.approx(top[0])  # greedy picks the most likely token
        assert entry.top_logprobs[0].token == entry.token
