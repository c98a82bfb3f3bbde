"""Full-build throughput next to raw model.encode on the same chunks, and peak memory.

    .venv/bin/python scripts/bench_build.py ../shared/bench/scifact        # a BEIR folder
    .venv/bin/python scripts/bench_build.py corpus                         # a folder of files

A BEIR folder is first written out as .txt files (title as the first line) under .bench/.
"""

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.beir import write_corpus
from service.chunking import chunk_document
from service.config import Settings
from service.documents import load_corpus
from service.embedding import Embedder
from service.indexing import build_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="corpus folder or BEIR folder")
    parser.add_argument("--limit", type=int, default=None, help="first N BEIR documents only")
    parser.add_argument("--batch-size", type=int, default=Settings().batch_size)
    args = parser.parse_args()
    corpus = args.corpus
    if (corpus / "corpus.jsonl.gz").exists() or (corpus / "corpus.jsonl").exists():
        suffix = f"-{args.limit}" if args.limit else ""
        corpus = write_corpus(corpus, Path(".bench") / f"{corpus.name}-md{suffix}", args.limit)

    started = time.perf_counter()
    embedder = Embedder.load(Settings().model)
    load_s = time.perf_counter() - started
    embedder.embed(["warm up the model"] * 8)

    index = Path(tempfile.mkdtemp(prefix="herein-bench-"))
    try:
        started = time.perf_counter()
        report = build_index(corpus, index, embedder, batch_size=args.batch_size)
        build_s = time.perf_counter() - started
        build_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        shutil.rmtree(index, ignore_errors=True)

    texts = [
        chunk.embed_text
        for document in load_corpus(corpus).documents
        for chunk in chunk_document(document, embedder)
    ]
    started = time.perf_counter()
    embedder.model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True)
    encode_s = time.perf_counter() - started

    print(f"corpus: {corpus} ({report.documents} documents, {report.chunks} chunks)")
    print(f"model load: {load_s:.1f}s")
    print(f"full build:        {build_s:8.1f}s  {report.chunks / build_s:8.1f} chunks/s")
    print(f"raw model.encode:  {encode_s:8.1f}s  {len(texts) / encode_s:8.1f} chunks/s")
    print(f"build / encode time ratio: {build_s / encode_s:.3f} (target <= 1.15)")
    print(f"peak RSS after build: {build_rss:.0f} MiB")


if __name__ == "__main__":
    main()
