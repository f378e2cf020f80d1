"""HF tokenizers' encode throughput on the same corpus and in the same way as bench_tokenizer: one thread, one
~2 KB document per call, MB/s = 10^6 bytes of UTF-8 input per second of CPU time (Google Benchmark's rate
counters also divide by CPU time, which keeps the comparison fair on a busy machine).

    .venv/bin/python bench/tokenizer/hf_encode_benchmark.py [MODEL_DIR]
"""
import json
import os
import pathlib
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers starts its thread pool
os.environ["TOKENIZERS_PARALLELISM"] = "false"
import tokenizers  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
MIN_SECONDS = 3.0


def encode_all(tokenizer, texts):
    for text in texts:
        tokenizer.encode(text, add_special_tokens=False)


def rate(tokenizer, texts):
    """MB/s over repeated passes lasting at least MIN_SECONDS (the first pass warms the cache)."""
    encode_all(tokenizer, texts)
    size = sum(len(text.encode("utf-8")) for text in texts)
    passes, start = 0, time.process_time()
    while True:
        encode_all(tokenizer, texts)
        passes += 1
        elapsed = time.process_time() - start
        if elapsed >= MIN_SECONDS:
            return size * passes / elapsed / 1e6


def main():
    model_dir = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "testdata/fixtures/dsv3-tiny-fullvocab"
    documents = [json.loads(line) for line in (ROOT / "bench/tokenizer/corpus.jsonl").read_text().splitlines()]
    path = str(model_dir / "tokenizer.json")
    print(f"tokenizers {tokenizers.__version__}, {len(documents)} documents, one thread")

    cold_runs = []
    for _ in range(5):
        tokenizer = tokenizers.Tokenizer.from_file(path)
        texts = [document["text"] for document in documents]
        start = time.process_time()
        encode_all(tokenizer, texts)
        cold_runs.append(sum(len(t.encode("utf-8")) for t in texts) / (time.process_time() - start) / 1e6)
    print(f"encode_cold    mixed   {sorted(cold_runs)[2]:8.2f} MB/s (median of 5 first passes)")

    tokenizer = tokenizers.Tokenizer.from_file(path)
    for kind in ["mixed", "english", "chinese", "code"]:
        texts = [document["text"] for document in documents if kind == "mixed" or document["kind"] == kind]
        print(f"encode_warm    {kind:7s} {rate(tokenizer, texts):8.2f} MB/s")


if __name__ == "__main__":
    main()
