"""Shared fixtures: the real model (loaded once), corpora under tmp_path, a real server."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from service.embedding import Embedder
from service.indexing import build_index
from service.models import Passage
from service.search import Searcher

ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "corpus"
DATA = Path(__file__).resolve().parent / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default model, loaded once for the whole run."""
    return Embedder.load()


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """An index of the default corpus (corpus/), built once."""
    index_dir = tmp_path_factory.mktemp("seed-index")
    build_index(SEED_CORPUS, index_dir, embedder)
    return index_dir


@pytest.fixture(scope="session")
def seed_searcher(seed_index: Path, embedder: Embedder) -> Searcher:
    """A searcher over the default corpus."""
    return Searcher.open(embedder, seed_index)


WriteFiles = Callable[[dict[str, str | bytes]], Path]


@pytest.fixture
def write_corpus(tmp_path: Path) -> WriteFiles:
    """Write {relative path: text or bytes} into a fresh corpus folder and return it."""

    def write(files: dict[str, str | bytes]) -> Path:
        corpus = tmp_path / "corpus"
        for name, content in files.items():
            path = corpus / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_bytes(content.encode("utf-8"))
        corpus.mkdir(exist_ok=True)
        return corpus

    return write


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(
    corpus: Path,
    index: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    ready: bool = True,
) -> Iterator[str]:
    """A real `herein serve` process on a free port; yields its base URL once ready (or,
    with ready=False, once /readyz answers at all)."""
    port = free_port()
    command = [sys.executable, "-m", "service", "serve", "--corpus", str(corpus)]
    command += ["--index", str(index), "--port", str(port)]
    # A file, not a pipe: nobody reads a pipe while the test runs, and once its buffer
    # fills with access-log lines the server blocks on its next write.
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as log:
        process = subprocess.Popen(
            command,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    log.seek(0)
                    output = log.read()
                    raise RuntimeError(f"herein serve exited with {process.returncode}:\n{output}")
                try:
                    status = httpx.get(f"{url}/readyz", timeout=1).status_code
                    if status == 200 or not ready:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            else:
                raise RuntimeError(f"herein serve was not ready within {timeout}s")
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def make_pdf(
    pages: list[list[str]] | list[list[str | tuple[float, str]]], title: str = ""
) -> bytes:
    """A real PDF with one text line per entry, one page per list (empty list: no text);
    an entry (size, line) sets its line in that font size (else 12)."""
    from io import BytesIO

    from reportlab.pdfgen import canvas

    buffer = BytesIO()
    pdf = canvas.Canvas(buffer)
    if title:
        pdf.setTitle(title)
    for lines in pages:
        pdf.rect(50, 50, 100, 100)  # something on every page, text or not
        for number, entry in enumerate(lines):
            size, line = entry if isinstance(entry, tuple) else (12.0, entry)
            pdf.setFont("Helvetica", size)
            pdf.drawString(72, 720 - 24 * number, line)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def placed_pdf(pages: list[list[tuple[float, float, str]]]) -> bytes:
    """A real PDF whose text is placed where each (x, y, text) says, at 12 points: for
    tables and columns. Each page is drawn in the order given."""
    from io import BytesIO

    from reportlab.pdfgen import canvas

    buffer = BytesIO()
    pdf = canvas.Canvas(buffer)
    for placed in pages:
        pdf.setFont("Helvetica", 12)
        for x, y, text in placed:
            pdf.drawString(x, y, text)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def raw_pdf(streams: list[bytes]) -> bytes:
    """A PDF with one page per raw content stream, font /F1 Helvetica: for what reportlab
    never writes (broken operators, negative font sizes)."""
    from io import BytesIO

    import pypdf
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = pypdf.PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    fonts = DictionaryObject({NameObject("/F1"): writer._add_object(font)})
    for content in streams:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
        stream = DecodedStreamObject()
        stream.set_data(content)
        page[NameObject("/Contents")] = writer._add_object(stream)
    buffer = BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


MULTIDOC_CORPUS = DATA / "multidoc"


@pytest.fixture(scope="session")
def multidoc_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """An index of the written multi-document corpus (tests/data/multidoc), built once."""
    index_dir = tmp_path_factory.mktemp("multidoc-index")
    build_index(MULTIDOC_CORPUS, index_dir, embedder)
    return index_dir


@pytest.fixture(scope="session")
def multidoc_searcher(multidoc_index: Path, embedder: Embedder) -> Searcher:
    """A hybrid searcher over the written multi-document corpus."""
    return Searcher.open(embedder, multidoc_index)


def marked(passage: Passage) -> str:
    """The text of the passage's one highlight (document offsets, like its citation's)."""
    [highlight] = passage.highlights
    start = highlight.start - passage.citation.start
    return passage.text[start : highlight.end - passage.citation.start]
