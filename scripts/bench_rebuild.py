"""How much an incremental rebuild costs next to a full build.

Makes a corpus of N documents (one .txt per abstract) from a BEIR corpus, then, in one
process with the model already loaded, times: a full build, adding one document,
changing one, and a build with nothing changed. The CLI's process start and the model
load are timed separately, since every `herein build` process pays them once.

    .venv/bin/python scripts/bench_rebuild.py ../shared/bench/scifact --documents 2000
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.embedding import Embedder
from service.evaluation import beir_corpus_file, read_jsonl
from service.indexing import build_index


def make_corpus(bench: Path, folder: Path, count: int) -> list[tuple[str, str]]:
    """Write `count` documents into `folder`; return two more (name, text), held back."""
    documents = []
    for row in read_jsonl(beir_corpus_file(bench)):
        name = re.sub(r"[^A-Za-z0-9._-]", "_", str(row["_id"]))
        documents.append((f"{name}.txt", f"{row.get('title', '').strip()}\n\n{row['text']}\n"))
        if len(documents) == count + 2:
            break
    if len(documents) < count + 2:
        raise SystemExit(f"{bench} has only {len(documents)} documents; need {count + 2}")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, text in documents[:count]:
        (folder / name).write_text(text, encoding="utf-8")
    return documents[count:]


def timed(label: str, results: dict[str, float], run: object) -> object:
    started = time.perf_counter()
    value = run() if callable(run) else None
    results[label] = time.perf_counter() - started
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", type=Path, help="A BEIR folder, e.g. ../shared/bench/scifact")
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--workdir", type=Path, default=Path(".bench/rebuild"))
    args = parser.parse_args()

    corpus, index = args.workdir / "corpus", args.workdir / "index"
    extra, another = make_corpus(args.bench, corpus, args.documents)
    shutil.rmtree(index, ignore_errors=True)
    seconds: dict[str, float] = {}

    command = [sys.executable, "-m", "service", "--help"]
    timed("cli process start (herein --help)", seconds,
          lambda: subprocess.run(command, check=True, capture_output=True))  # fmt: skip
    embedder = timed("model load", seconds, Embedder.load)
    assert isinstance(embedder, Embedder)
    embedder.fingerprint  # noqa: B018 - computed once per process, not per build

    def build() -> object:
        return build_index(corpus, index, embedder)

    full = timed("full build", seconds, build)
    (corpus / extra[0]).write_text(extra[1], encoding="utf-8")
    added = timed("add one document", seconds, build)
    changed_name = sorted(p.name for p in corpus.iterdir())[0]
    with open(corpus / changed_name, "a", encoding="utf-8") as handle:
        handle.write(another[1])
    changed = timed("change one document", seconds, build)
    unchanged = timed("nothing changed", seconds, build)

    base = seconds["full build"]
    print(f"corpus: {args.documents} documents from {args.bench}")
    reports = {"full build": full, "add one document": added,
               "change one document": changed, "nothing changed": unchanged}  # fmt: skip
    for label, report in reports.items():
        plan = getattr(report, "plan", "")
        chunks = getattr(report, "chunks", 0)
        print(f"  {label:22} {seconds[label]:8.2f} s  {seconds[label] / base:7.2%}  "
              f"({chunks} chunks; {plan})")  # fmt: skip
    for label in ("cli process start (herein --help)", "model load"):
        print(f"  {label:34} {seconds[label]:8.2f} s (paid once per `herein build` process)")
    ratio = seconds["add one document"] / base
    print(f"adding one document costs {ratio:.2%} of the full build (goal: under 2%)")


if __name__ == "__main__":
    main()
