"""The corpus watcher: visible file changes become one callback after a quiet period."""

import threading
import time
from pathlib import Path

from service.watching import watch_corpus


def test_changes_are_reported_after_a_quiet_period_and_dot_files_ignored(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    calls: list[list[str]] = []
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch_corpus, args=(corpus, calls.append, stop, 300), daemon=True
    )
    watcher.start()
    time.sleep(0.5)  # let the watcher start
    (corpus / ".a.txt.upload").write_text("partial")
    (corpus / "a.txt").write_text("one")
    (corpus / "b.md").write_text("two")
    deadline = time.monotonic() + 10
    while not calls and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    watcher.join(timeout=5)
    assert calls == [["a.txt", "b.md"]]


def test_an_index_folder_inside_the_corpus_is_not_watched(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    index = corpus / "index"
    (index / "generations").mkdir(parents=True)
    calls: list[list[str]] = []
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch_corpus, args=(corpus, calls.append, stop, 300, [index]), daemon=True
    )
    watcher.start()
    time.sleep(0.5)  # let the watcher start
    # What a build writes, then a new document.
    (index / "generations" / "v1").mkdir()
    (index / "generations" / "v1" / "manifest.json").write_text("{}")
    (index / "CURRENT").write_text("v1")
    (corpus / "a.txt").write_text("one")
    deadline = time.monotonic() + 10
    while not calls and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    watcher.join(timeout=5)
    assert calls == [["a.txt"]]
