"""Writes the code-point ranges that Hugging Face tokenizers' regex engine (Oniguruma) puts in each class the
DeepSeek-V3 pre-tokenizer uses: \\p{L}, \\p{N}, \\p{M}, \\p{P}, \\p{S} and \\s.

    .venv/bin/python tests/text/make_hf_unicode_classes.py > tests/text/data/hf-unicode-classes.json

test_unicode_classes.cpp compares utf8proc's classes with this file for every code point, and
differential_test.py checks that the installed tokenizers still produces it.
"""
import json
import sys

import tokenizers
from tokenizers import Regex, pre_tokenizers

CLASSES = {"L": r"\p{L}", "N": r"\p{N}", "M": r"\p{M}", "P": r"\p{P}", "S": r"\p{S}", "White_Space": r"\s"}


def all_code_points():
    return [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


def class_ranges(pattern):
    """[first, last] ranges of the code points the pattern matches, found by removing its matches from a
    string of every code point and inverting what is left."""
    code_points = all_code_points()
    text = "".join(map(chr, code_points))
    gaps = pre_tokenizers.Split(Regex(pattern + "+"), "removed").pre_tokenize_str(text)
    in_class = [True] * len(code_points)
    for _, (start, end) in gaps:
        for index in range(start, end):
            in_class[index] = False
    ranges = []
    for index, code_point in enumerate(code_points):
        if not in_class[index]:
            continue
        if ranges and ranges[-1][1] == code_point - 1:
            ranges[-1][1] = code_point
        else:
            ranges.append([code_point, code_point])
    return ranges


def main():
    table = {"tokenizers_version": tokenizers.__version__,
             "classes": {name: class_ranges(pattern) for name, pattern in CLASSES.items()}}
    json.dump(table, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
