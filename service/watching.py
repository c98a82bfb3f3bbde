"""`herein serve --watch`: corpus file events, debounced, become rebuild requests."""

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import watchfiles

logger = logging.getLogger(__name__)


def watch_corpus(
    corpus_dir: Path,
    on_change: Callable[[list[str]], None],
    stop: threading.Event,
    quiet_ms: int = 1500,
    ignore: Sequence[Path] = (),
) -> None:
    """Call `on_change` with the changed paths once the corpus has been quiet for `quiet_ms`.

    Folders in `ignore` (the index, when it sits inside the corpus) are not watched, so a
    build's own writes never trigger another build.
    """
    root = corpus_dir.resolve()
    ignored = [folder.resolve() for folder in ignore]

    def visible(change: watchfiles.Change, path: str) -> bool:
        if any(Path(path).is_relative_to(folder) for folder in ignored):
            return False
        # Dot-names are not indexed; uploads are written under one before their rename.
        parts = Path(path).relative_to(root).parts if Path(path).is_relative_to(root) else ()
        return not any(part.startswith(".") for part in parts)

    for changes in watchfiles.watch(
        root, watch_filter=visible, debounce=quiet_ms, stop_event=stop, raise_interrupt=False
    ):
        paths = sorted({Path(path).relative_to(root).as_posix() for _, path in changes})
        logger.info("corpus changed: %s", ", ".join(paths))
        on_change(paths)
