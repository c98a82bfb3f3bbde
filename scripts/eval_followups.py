"""Measure follow-up search: how often the first passage is right with and without history.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/eval_followups.py

Cases are in tests/data/followup-cases.json over the corpus tests/data/followups/.
"""

import json
import tempfile
from pathlib import Path

from service.embedding import Embedder
from service.indexing import build_index
from service.search import Searcher

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def main() -> None:
    embedder = Embedder.load()
    with tempfile.TemporaryDirectory() as index_dir:
        build_index(DATA / "followups", Path(index_dir), embedder)
        searcher = Searcher.open(embedder, Path(index_dir))
        cases = json.loads((DATA / "followup-cases.json").read_text())["cases"]
        tally: dict[str, list[int]] = {}
        for case in cases:
            alone = searcher.search(case["question"], 1).passages[0]
            along = searcher.search(case["question"], 1, case["history"]).passages[0]
            counts = tally.setdefault(case["kind"], [0, 0, 0, 0])
            counts[0] += case["expect"] in alone.text
            counts[1] += case["expect"] in along.text
            counts[2] += alone.chunk_id == along.chunk_id
            counts[3] += 1
        for kind, (alone_ok, along_ok, same, total) in tally.items():
            print(
                f"{kind:7} {total:3} cases  right first: without history {alone_ok}/{total}, "
                f"with history {along_ok}/{total}; same first passage {same}/{total}"
            )
        searcher.index.close()


if __name__ == "__main__":
    main()
