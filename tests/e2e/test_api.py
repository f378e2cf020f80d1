"""The rest of the API surface: completions (text and token-id prompts, echo, lists), SGLang's /generate,
tokenize / detokenize, models, health, metrics, flush_cache."""
import json

import pytest

from conftest import chat_greedy_rows


def test_completions_with_text_and_token_prompts(client, server):
    status, tokenized = server.request("POST", "/v1/tokenize", {"prompt": "The capital of France"})
    assert status == 200 and tokenized["tokens"][0] == 0  # BOS, as tokenizer_config.json asks
    by_text = client.completions.create(model="dsv3-tiny-fullvocab", prompt="The capital of France", temperature=0,
                                        max_tokens=6)
    by_ids = client.completions.create(model="dsv3-tiny-fullvocab", prompt=tokenized["tokens"], temperature=0, max_tokens=6)
    assert by_text.choices[0].text == by_ids.choices[0].text
    assert by_text.usage.prompt_tokens == tokenized["count"]

    batch = client.completions.create(model="dsv3-tiny-fullvocab", prompt=["The capital of France", [0, 17, 42]],
                                      temperature=0, max_tokens=6, n=2)
    assert [choice.index for choice in batch.choices] == [0, 1, 2, 3]
    assert batch.choices[0].text == batch.choices[1].text == by_text.choices[0].text

    echoed = client.completions.create(model="dsv3-tiny-fullvocab", prompt="The capital of France", temperature=0,
                                       max_tokens=6, echo=True)
    assert echoed.choices[0].text == "The capital of France" + by_text.choices[0].text
    assert echoed.choices[0].logprobs is None


def test_echo_with_logprobs_scores_the_prompt_too(client, server):
    prompt = "The capital of France is"
    status, tokenized = server.request("POST", "/v1/tokenize", {"prompt": prompt})
    ids = tokenized["tokens"]
    echoed = client.completions.create(model="dsv3-tiny-fullvocab", prompt=prompt, temperature=0, max_tokens=5, echo=True,
                                       logprobs=2)
    logprobs = echoed.choices[0].logprobs
    assert len(logprobs.tokens) == len(ids) + 5
    assert logprobs.token_logprobs[0] is None and logprobs.top_logprobs[0] is None  # nothing precedes the first token
    assert all(len(top) == 2 for top in logprobs.top_logprobs[1:])
    assert logprobs.text_offset[0] == 0 and logprobs.text_offset == sorted(logprobs.text_offset)
    # Each prompt token's logprob is the one the model gives it after the tokens before it: make the model pick it
    # (logit_bias) from that prefix and read the logprob of the pick (always the raw distribution's).
    for position in (1, len(ids) // 2, len(ids) - 1):
        forced = client.completions.create(model="dsv3-tiny-fullvocab", prompt=ids[:position], temperature=0, max_tokens=1,
                                           logprobs=0, logit_bias={str(ids[position]): 100})
        assert forced.choices[0].logprobs.token_logprobs[0] == pytest.approx(logprobs.token_logprobs[position], abs=1e-3)
    # The completion part is the plain request's.
    plain = client.completions.create(model="dsv3-tiny-fullvocab", prompt=prompt, temperature=0, max_tokens=5, logprobs=2)
    assert logprobs.token_logprobs[len(ids):] == pytest.approx(plain.choices[0].logprobs.token_logprobs, abs=1e-4)

    # Streamed: the first chunk is the prompt with its logprobs, then the tokens; together the same as above.
    chunks = list(client.completions.create(model="dsv3-tiny-fullvocab", prompt=prompt, temperature=0, max_tokens=5,
                                            echo=True, logprobs=2, stream=True))
    assert chunks[0].choices[0].text == prompt and len(chunks[0].choices[0].logprobs.tokens) == len(ids)
    assert "".join(chunk.choices[0].text for chunk in chunks) == echoed.choices[0].text
    streamed = [value for chunk in chunks if chunk.choices[0].logprobs for value in chunk.choices[0].logprobs.token_logprobs]
    assert streamed[0] is None and streamed[1:] == pytest.approx(logprobs.token_logprobs[1:], abs=1e-4)

    # A prompt scored over several steps (256 tokens each) still streams as one echo chunk first.
    long_prompt = "word " * 300
    chunks = list(client.completions.create(model="dsv3-tiny-fullvocab", prompt=long_prompt, max_tokens=2, echo=True,
                                            logprobs=0, stream=True))
    assert chunks[0].choices[0].text == long_prompt
    assert len(chunks[0].choices[0].logprobs.tokens) == server.request("POST", "/v1/tokenize", {"prompt": long_prompt})[1]["count"]
    assert sum(len(chunk.choices[0].logprobs.tokens) for chunk in chunks if chunk.choices[0].logprobs) == \
        len(chunks[0].choices[0].logprobs.tokens) + 2

    # SGLang's /generate: input_token_logprobs from logprob_start_len.
    status, result = server.request("POST", "/generate", {
        "input_ids": ids, "return_logprob": True, "logprob_start_len": 2, "top_logprobs_num": 1,
        "sampling_params": {"max_new_tokens": 1, "temperature": 0}})
    assert status == 200
    meta = result["meta_info"]
    assert [entry[1] for entry in meta["input_token_logprobs"]] == ids[2:]
    assert [entry[0] for entry in meta["input_token_logprobs"]] == pytest.approx(logprobs.token_logprobs[2:len(ids)], abs=1e-4)
    assert all(len(top) == 1 for top in meta["input_top_logprobs"])


def test_generate_native_api(server):
    row = chat_greedy_rows()[0]
    status, result = server.request("POST", "/generate", {
        "input_ids": row["prompt_ids"], "sampling_params": {"max_new_tokens": 16, "temperature": 0}})
    assert status == 200
    assert result["output_ids"] == row["completion_ids"]
    assert result["text"] == row["completion_text"]
    assert result["meta_info"]["finish_reason"] == {"type": "length", "length": 16}
    assert result["meta_info"]["prompt_tokens"] == len(row["prompt_ids"])

    status, results = server.request("POST", "/generate", {"text": ["a", "b"], "sampling_params": {"max_new_tokens": 2}})
    assert status == 200 and len(results) == 2 and all(len(item["output_ids"]) == 2 for item in results)


def test_tokenize_keeps_user_text_plain_and_detokenize_round_trips(server):
    user_token = "<｜User｜>"
    status, plain = server.request("POST", "/v1/tokenize", {"messages": [{"role": "user", "content": user_token + "x"}]})
    assert status == 200
    assert plain["tokens"].count(128803) == 1  # only the template's own <｜User｜> is the control token
    status, text = server.request("POST", "/v1/detokenize", {"tokens": plain["tokens"]})
    assert status == 200 and text["text"] == "<｜begin▁of▁sentence｜><｜User｜><｜User｜>x<｜Assistant｜>"


def test_model_routes(server):
    status, models = server.request("GET", "/v1/models")
    assert status == 200 and models["data"][0]["id"] == "dsv3-tiny-fullvocab"
    assert models["data"][0]["max_model_len"] == 163840
    assert server.request("GET", "/v1/models/dsv3-tiny-fullvocab")[0] == 200
    status, error = server.request("GET", "/v1/models/gpt-4")
    assert status == 404 and error["error"]["code"] == "model_not_found"
    status, info = server.request("GET", "/get_model_info")
    assert status == 200 and info["is_generation"] is True


def test_health_metrics_and_flush(server, client):
    assert server.request("GET", "/health")[0] == 200
    assert server.request("GET", "/health_generate")[0] == 200
    prompt = [{"role": "user", "content": "A prompt long enough to fill a whole KV page. " * 8}]
    before = server.metrics()
    client.chat.completions.create(model="dsv3-tiny-fullvocab", messages=prompt, max_tokens=2)
    second = client.chat.completions.create(model="dsv3-tiny-fullvocab", messages=prompt, max_tokens=2)
    assert second.usage.prompt_tokens_details.cached_tokens >= 64  # the shared prompt came from the prefix cache
    after = server.metrics()
    assert after["dsinfer_prefix_cache_hit_tokens_total"] >= before["dsinfer_prefix_cache_hit_tokens_total"] + 64
    assert after["dsinfer_generation_tokens_total"] >= before["dsinfer_generation_tokens_total"] + 4
    assert after["dsinfer_time_to_first_token_seconds_count"] >= before["dsinfer_time_to_first_token_seconds_count"] + 2
    assert after["dsinfer_kv_pages_cached"] > 0
    status, _ = server.request("POST", "/flush_cache")
    assert status == 200
    assert server.metrics()["dsinfer_kv_pages_cached"] == 0
    assert server.metrics()["dsinfer_kv_pages_free"] == after["dsinfer_kv_pages_total"]
