"""Reading BEIR folders (corpus.jsonl[.gz], queries.jsonl, qrels/*.tsv) for the benchmarks."""

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a .jsonl or .jsonl.gz file."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def corpus_file(folder: Path) -> Path:
    """The folder's corpus.jsonl or corpus.jsonl.gz."""
    for name in ("corpus.jsonl", "corpus.jsonl.gz"):
        if (folder / name).exists():
            return folder / name
    raise SystemExit(f"{folder} is not a BEIR folder: no corpus.jsonl[.gz]")


def write_text_corpus(folder: Path, target: Path, limit: int | None = None) -> Path:
    """Write a BEIR corpus as .txt files (title as the first line); reuses an earlier copy."""
    marker = target / ".complete"
    if marker.exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for number, row in enumerate(read_jsonl(corpus_file(folder))):
        if limit is not None and number >= limit:
            break
        name = re.sub(r"[^A-Za-z0-9._-]", "_", str(row["_id"]))
        body = f"{row.get('title', '').strip()}\n\n{row['text']}\n"
        (target / f"{name}.txt").write_text(body, encoding="utf-8")
    marker.write_text("ok")
    return target
