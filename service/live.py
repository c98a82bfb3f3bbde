"""The searcher a server holds: it follows CURRENT and swaps generations without a restart.

A new generation is opened in full before the swap, so a request sees the old one or the
new one, never half of either. Requests borrow the searcher for their duration; an old
generation is closed once the last request that borrowed it is done.
"""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from service.errors import HereinError
from service.search import Searcher
from service.store import Index, current_version, outdated_note

logger = logging.getLogger(__name__)


class LiveSearcher:
    """The searcher of the generation CURRENT names, swapped when CURRENT changes."""

    def __init__(self, searcher: Searcher, owned: bool = True) -> None:
        """Start from `searcher`; `owned=False` leaves closing it to whoever opened it."""
        self._searcher = searcher
        # Searchers this object may close: every one it opens, the first if owned.
        self._owned: set[int] = {id(searcher)} if owned else set()
        self._borrowed: dict[int, int] = {}
        self._retired: dict[int, Searcher] = {}
        self._lock = threading.Lock()
        self._failed: str | None = None

    @property
    def index_dir(self) -> Path:
        "The index root being followed"
        return self._searcher.index.root

    @property
    def version(self) -> str:
        "The version new requests get"
        return self._searcher.index.version

    @contextmanager
    def borrow(self) -> Iterator[Searcher]:
        """The current searcher, kept open until the block ends even if a swap happens."""
        with self._lock:
            searcher = self._searcher
            key = id(searcher)
            self._borrowed[key] = self._borrowed.get(key, 0) + 1
        try:
            yield searcher
        finally:
            with self._lock:
                self._borrowed[key] -= 1
                if self._borrowed[key] == 0:
                    del self._borrowed[key]
                    retired = self._retired.pop(key, None)
                    if retired is not None:
                        self._close(retired)

    def refresh(self) -> bool:
        """Swap to the generation CURRENT names if it is another one; True when swapped.

        A generation that fails to open is logged once and the old one kept.
        """
        try:
            version = current_version(self.index_dir)
        except (HereinError, OSError):
            return False
        if version == self.version or version == self._failed:
            return False
        try:
            index = Index.open(self.index_dir, version)
        except HereinError as error:
            return self._keep(version, error)
        try:
            fresh = Searcher(self._searcher.embedder, index, self._searcher.retrieval)
        except HereinError as error:  # built with another model
            index.close()
            return self._keep(version, error)
        self._owned.add(id(fresh))
        with self._lock:
            old, self._searcher = self._searcher, fresh
            if id(old) in self._borrowed:
                self._retired[id(old)] = old
            else:
                self._close(old)
        logger.info("now serving generation %s (was %s)", version, old.index.version)
        note = outdated_note(index.manifest)
        if note:  # e.g. after a rollback to a generation an older herein wrote
            logger.warning("%s", note)
        return True

    def _keep(self, version: str, error: HereinError) -> bool:
        self._failed = version
        logger.error("keeping generation %s, not %s: %s", self.version, version, error)
        return False

    def follow(self, interval: float, stop: threading.Event) -> None:
        """Check CURRENT every `interval` seconds until `stop` is set."""
        while not stop.wait(interval):
            try:
                self.refresh()
            except Exception:  # a reload failure must never end the loop
                logger.exception("checking for a new generation failed")

    def close(self) -> None:
        """Close the held generation (and any retired one)."""
        with self._lock:
            for searcher in [self._searcher, *self._retired.values()]:
                self._close(searcher)
            self._retired.clear()

    def _close(self, searcher: Searcher) -> None:
        if id(searcher) in self._owned:
            self._owned.discard(id(searcher))
            searcher.index.close()
