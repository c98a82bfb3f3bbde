"""BEIR folders as corpora of files, for the build benchmark: written as `herein eval`
writes them, so it builds the same documents."""

from pathlib import Path

from service.evaluation import write_beir_corpus


def write_corpus(folder: Path, target: Path, limit: int | None = None) -> Path:
    """Write a BEIR corpus (its first `limit` documents) as files; reuses an earlier copy."""
    marker = target / ".complete"
    if not marker.exists():
        write_beir_corpus(folder, target, limit)
        marker.write_text("ok")
    return target
