"""Builds corpus.jsonl, the mixed English / Chinese / code corpus of the tokenizer benchmarks: documents of about
2 KB, taken in turn from each kind. Run once; the output is checked in so that every machine measures the same
text.

    python3 bench/tokenizer/make_corpus.py > bench/tokenizer/corpus.jsonl

Sources (all redistributable): English prose, the GNU GPL-3 and Apache-2.0 license texts (Debian's
/usr/share/common-licenses; verbatim copies are permitted); Chinese, Vim's simplified- and traditional-Chinese
tutors (/usr/share/vim/vim90/tutor, Vim license); code, dsinfer's own tokenizer and Jinja sources.
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCES = {
    "english": ["/usr/share/common-licenses/GPL-3", "/usr/share/common-licenses/Apache-2.0"],
    "chinese": ["/usr/share/vim/vim90/tutor/tutor.zh_cn.utf-8", "/usr/share/vim/vim90/tutor/tutor.zh.utf-8"],
    "code": [ROOT / "src/text/jinja/parser.cpp", ROOT / "src/text/jinja/lexer.cpp", ROOT / "src/text/tokenizer.cpp"],
}
DOCUMENT_BYTES = 2048


def documents(paths):
    """Consecutive lines grouped into documents of about DOCUMENT_BYTES bytes."""
    result, current = [], ""
    for path in paths:
        for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines(keepends=True):
            current += line
            if len(current.encode("utf-8")) >= DOCUMENT_BYTES:
                result.append(current)
                current = ""
    if current:
        result.append(current)
    return result


def main():
    kinds = {kind: documents(paths) for kind, paths in SOURCES.items()}
    longest = max(len(docs) for docs in kinds.values())
    for index in range(longest):
        for kind, docs in kinds.items():
            if index < len(docs):
                sys.stdout.write(json.dumps({"kind": kind, "text": docs[index]}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
