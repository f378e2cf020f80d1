"""Differential test of `dsinfer tokenize` against Hugging Face tokenizers on thousands of seeded random
strings (Unicode blocks, whitespace runs, digits, emoji, added-token text), strings around added tokens with
every flag (lstrip, rstrip, single_word, normalized), and random id sequences.

    python3 tests/text/differential_test.py BUILD/src/cli/dsinfer [MODEL_DIR]

Runs with the project's .venv (scripts/install-deps.sh makes it, with tokenizers 0.23.2); without it the test
reports itself skipped (exit code 77). It also regenerates the Unicode class table of HF's regex engine and
compares it with tests/text/data/hf-unicode-classes.json, which the C++ tests check against utf8proc.
"""
import json
import os
import pathlib
import random
import subprocess
import sys
import tempfile
import unicodedata

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
SKIPPED = 77

RANDOM_STRINGS = 6000
RANDOM_ID_SEQUENCES = 3000

# Ranges to draw characters from: scripts, symbols, CJK (inside and outside the pre-tokenizer's range), kana,
# hangul, emoji, combining marks, private use, fullwidth forms, and the supplementary planes.
BLOCKS = [(0x20, 0x7E), (0xA0, 0x24F), (0x250, 0x36F), (0x370, 0x52F), (0x530, 0x8FF), (0x900, 0xDFF), (0xE00, 0xFFF),
          (0x1000, 0x1FFF), (0x2000, 0x2BFF), (0x2E80, 0x2FFF), (0x3000, 0x30FF), (0x3100, 0x4DBF), (0x4E00, 0x9FA5),
          (0x9FA6, 0x9FFF), (0xA000, 0xABFF), (0xAC00, 0xD7FF), (0xE000, 0xF8FF), (0xF900, 0xFFFD), (0x10000, 0x1FFFF),
          (0x1F300, 0x1FAFF), (0x20000, 0x2A6DF), (0xE0000, 0xE01EF)]
WHITESPACE = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", "\x0b", "\x0c", "\x85", "\u00a0", "\u1680", "\u2000",
              "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", " \n ", "\t\t", "    \n"]
DIGITS = ["0", "7", "12", "123", "1234", "12345678", "٣٤٥", "१२३", "１２３", "Ⅻ", "½", "²", "𝟘𝟙", "3.14", "1,000", "0x1F"]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇨🇳🇺🇸", "❤️", "🏳️‍🌈", "🤖", "🧑‍💻", "✅", "⚠️", "🫠", "🫨"]
SNIPPETS = ["'s", "'t", "'re", "n't", "I'm", "DON'T", "o'clock", "...", "!!!", "?!", "--", "->", "=>", "::", "#include",
            "std::vector<int>", "def f(x):", "{\"a\": 1}", "</div>", "https://x.io/a?b=c", "a_b", "__init__", "$$",
            "e\u0301", "\u200b", "\u200d", "\ufeff", "\ufdd0", "\U0010ffff", "\ue000", "ﬁ", "Ǆ", "ß", "İ"]


def assigned_before_unicode_15(code_point):
    """Characters whose classes both sides agree on (see UnicodeClasses tests): assigned in Unicode 14 (this
    Python's data), or permanently unassigned noncharacters. Newer characters are where utf8proc (15.0) and
    HF's Oniguruma (16.0) may differ, by design."""
    if 0xD800 <= code_point <= 0xDFFF:
        return False
    if unicodedata.category(chr(code_point)) != "Cn":
        return True
    return 0xFDD0 <= code_point <= 0xFDEF or (code_point & 0xFFFE) == 0xFFFE


def random_character(rng):
    while True:
        low, high = rng.choice(BLOCKS)
        code_point = rng.randint(low, high)
        if assigned_before_unicode_15(code_point):
            return chr(code_point)


def random_strings(rng, added_tokens):
    strings = []
    for _ in range(RANDOM_STRINGS):
        parts = []
        for _ in range(rng.randint(1, 10)):
            kind = rng.random()
            if kind < 0.35:
                parts.append("".join(random_character(rng) for _ in range(rng.randint(1, 8))))
            elif kind < 0.5:
                parts.append(rng.choice(WHITESPACE) * rng.randint(1, 3))
            elif kind < 0.6:
                parts.append(rng.choice(DIGITS))
            elif kind < 0.68:
                parts.append(rng.choice(EMOJI))
            elif kind < 0.8:
                parts.append(rng.choice(SNIPPETS))
            elif kind < 0.9:
                token = rng.choice(added_tokens)
                cut = rng.random()  # whole, or a prefix / suffix that must not match
                parts.append(token if cut < 0.6 else token[: rng.randint(1, len(token) - 1)] if cut < 0.8
                             else token[rng.randint(1, len(token) - 1):])
            else:
                parts.append("".join(chr(rng.randint(0x61, 0x7A)) for _ in range(rng.randint(1, 12))))
        strings.append("".join(parts))
    return strings


def random_id_sequences(rng, vocab_size, special_ids, partial_ids):
    sequences = []
    for _ in range(RANDOM_ID_SEQUENCES):
        sequence = []
        for _ in range(rng.randint(1, 24)):
            kind = rng.random()
            sequence.append(rng.choice(partial_ids) if kind < 0.4 else rng.choice(special_ids) if kind < 0.5
                            else rng.randrange(vocab_size))
        sequences.append(sequence)
    return sequences


# Added tokens with every flag tokenizers supports, appended to a copy of the model's tokenizer.json.
FLAGGED_TOKENS = [
    {"content": "<L>", "lstrip": True},
    {"content": "<R>", "rstrip": True},
    {"content": "<LR>", "lstrip": True, "rstrip": True},
    {"content": "word", "single_word": True},
    {"content": "<N>", "normalized": True},
    {"content": "<SN>", "normalized": True, "special": True},
    {"content": "<L", "special": True},  # a prefix of another added token: leftmost-longest decides
]


def write_flagged_model(model_dir, directory):
    """Ids as tokenizers assigns them: the vocabulary's id for a string already in it ("word"), else the next."""
    data = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    next_id = max(token["id"] for token in data["added_tokens"]) + 1
    for flags in FLAGGED_TOKENS:
        token_id = data["model"]["vocab"].get(flags["content"])
        if token_id is None:
            token_id, next_id = next_id, next_id + 1
        data["added_tokens"].append({"id": token_id, "content": flags["content"],
                                     "single_word": flags.get("single_word", False),
                                     "lstrip": flags.get("lstrip", False), "rstrip": flags.get("rstrip", False),
                                     "normalized": flags.get("normalized", False),
                                     "special": flags.get("special", False)})
    (directory / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (directory / "tokenizer_config.json").write_text((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"),
                                                     encoding="utf-8")


def flagged_strings(rng):
    pieces = [token["content"] for token in FLAGGED_TOKENS] + ["<｜User｜>", " ", "  ", "\n", "\t ", "\u3000", "a",
                                                                "word", "words", "sword", "1", ".", "é", "中", "<", ">"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))) for _ in range(3000)]


def run_dsinfer(binary, model_dir, requests):
    payload = "".join(json.dumps(request, ensure_ascii=False) + "\n" for request in requests)
    result = subprocess.run([binary, "tokenize", "--model", str(model_dir)], input=payload.encode("utf-8"),
                            stdout=subprocess.PIPE, check=True)
    # Split on "\n" only: replies may hold U+2028 or U+0085 unescaped, which str.splitlines() would split at.
    replies = [json.loads(line) for line in result.stdout.decode("utf-8").split("\n")[:-1]]
    if len(replies) != len(requests):
        sys.exit(f"dsinfer answered {len(replies)} lines for {len(requests)} requests")
    return replies


def report(kind, mismatches, total):
    print(f"{kind}: {total - len(mismatches)}/{total} identical")
    for mismatch in mismatches[:10]:
        print("  MISMATCH", json.dumps(mismatch, ensure_ascii=True)[:600])
    return not mismatches


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if pathlib.Path(sys.prefix).resolve() != VENV_PYTHON.parent.parent.resolve():  # not yet in the venv
        if not VENV_PYTHON.exists():
            print(f"SKIPPED: {VENV_PYTHON} is missing; run scripts/install-deps.sh to create it with tokenizers")
            sys.exit(SKIPPED)
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])
    try:
        import tokenizers
    except ImportError:
        print(f"SKIPPED: tokenizers is not installed in {VENV_PYTHON}; run scripts/install-deps.sh")
        sys.exit(SKIPPED)
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    import make_hf_unicode_classes

    binary = sys.argv[1]
    model_dir = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "testdata/fixtures/dsv3-tiny-fullvocab"
    hf = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    print(f"tokenizers {tokenizers.__version__}, Python Unicode data {unicodedata.unidata_version}")
    ok = True

    recorded = json.loads((ROOT / "tests/text/data/hf-unicode-classes.json").read_text())["classes"]
    current = {name: make_hf_unicode_classes.class_ranges(pattern)
               for name, pattern in make_hf_unicode_classes.CLASSES.items()}
    drifted = [name for name in current if current[name] != recorded[name]]
    ok &= report("HF regex classes vs hf-unicode-classes.json", drifted, len(current))

    rng = random.Random(20260315)
    added = [token.content for token in hf.get_added_tokens_decoder().values()]
    strings = random_strings(rng, added)
    replies = run_dsinfer(binary, model_dir, [{"text": text} for text in strings])
    expected = [encoding.ids for encoding in hf.encode_batch(strings, add_special_tokens=False)]
    mismatches = [{"text": text, "dsinfer": reply.get("ids", reply), "hf": ids}
                  for text, reply, ids in zip(strings, replies, expected) if reply.get("ids") != ids]
    ok &= report("encode", mismatches, len(strings))

    with tempfile.TemporaryDirectory() as directory:
        write_flagged_model(model_dir, pathlib.Path(directory))
        flagged = tokenizers.Tokenizer.from_file(str(pathlib.Path(directory) / "tokenizer.json"))
        strings = flagged_strings(rng)
        replies = run_dsinfer(binary, directory, [{"text": text} for text in strings])
        expected = [encoding.ids for encoding in flagged.encode_batch(strings, add_special_tokens=False)]
        mismatches = [{"text": text, "dsinfer": reply.get("ids", reply), "hf": ids}
                      for text, reply, ids in zip(strings, replies, expected) if reply.get("ids") != ids]
        ok &= report("encode with lstrip / rstrip / single_word / normalized added tokens", mismatches, len(strings))

    vocab_size = hf.get_vocab_size(with_added_tokens=True)
    special_ids = sorted(hf.get_added_tokens_decoder())
    partial_ids = [i for i in range(vocab_size) if "\ufffd" in hf.decode([i], skip_special_tokens=False)]
    sequences = random_id_sequences(rng, vocab_size + 50, special_ids, partial_ids)
    for skip in (False, True):
        replies = run_dsinfer(binary, model_dir, [{"ids": ids, "skip_special_tokens": skip} for ids in sequences])
        expected = hf.decode_batch(sequences, skip_special_tokens=skip)
        mismatches = [{"ids": ids, "dsinfer": reply.get("text", reply), "hf": text}
                      for ids, reply, text in zip(sequences, replies, expected) if reply.get("text") != text]
        ok &= report(f"decode (skip_special_tokens={skip})", mismatches, len(sequences))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
