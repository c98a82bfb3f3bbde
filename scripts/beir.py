"""BEIR folders as corpora of .txt files, for the build and query benchmarks."""

import re
from pathlib import Path

from service.evaluation import beir_corpus_file, read_jsonl


def write_text_corpus(folder: Path, target: Path, limit: int | None = None) -> Path:
    """Write a BEIR corpus as .txt files (title as the first line); reuses an earlier copy."""
    marker = target / ".complete"
    if marker.exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for number, row in enumerate(read_jsonl(beir_corpus_file(folder))):
        if limit is not None and number >= limit:
            break
        name = re.sub(r"[^A-Za-z0-9._-]", "_", str(row["_id"]))
        body = f"{row.get('title', '').strip()}\n\n{row['text']}\n"
        (target / f"{name}.txt").write_text(body, encoding="utf-8")
    marker.write_text("ok")
    return target
