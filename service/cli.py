"""The command line: `herein build`, `herein serve`, `herein ask`."""

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from service.config import Settings
from service.embedding import Embedder, model_location_is_local
from service.errors import HereinError, IndexNotFound
from service.indexing import BuildReport, build_index, corpus_changes
from service.models import SearchResult
from service.search import Searcher


class _Group(click.Group):
    """Turns herein's errors into a one-line CLI message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HereinError as error:
            raise click.ClickException(str(error)) from error


def _settings(**flags: Any) -> Settings:
    # Flags win over HEREIN_* variables, which win over defaults.
    try:
        return Settings(**{name: value for name, value in flags.items() if value is not None})
    except ValidationError as error:
        problems = "; ".join(
            f"HEREIN_{'_'.join(map(str, e['loc'])).upper()}={e.get('input')!r}: {e['msg']}"
            for e in error.errors()
        )
        raise click.ClickException(f"Bad setting: {problems}") from error


def _load_embedder(settings: Settings) -> Embedder:
    if model_location_is_local(settings.model):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never ask the hub for a local model
    click.echo(f"Loading model {settings.model} ...", err=True)
    return Embedder.load(settings.model)


def _build(settings: Settings, embedder: Embedder) -> BuildReport:
    click.echo(f"Building the index of {settings.corpus_dir} into {settings.index_dir}", err=True)
    report = build_index(
        settings.corpus_dir,
        settings.index_dir,
        embedder,
        chunk_tokens=settings.chunk_tokens,
        overlap_tokens=settings.overlap_tokens,
        batch_size=settings.batch_size,
        progress=sys.stderr.isatty(),
        log=lambda message: click.echo(message, err=True),
    )
    click.echo(
        f"Built generation {report.version}: {report.documents} documents, "
        f"{report.chunks} chunks, {len(report.skipped)} skipped, in {report.seconds:.1f}s",
        err=True,
    )
    return report


corpus_option = click.option(
    "--corpus", "corpus_dir", type=click.Path(path_type=Path), help="Corpus folder [./corpus]."
)
index_option = click.option(
    "--index", "index_dir", type=click.Path(path_type=Path), help="Index folder [./index]."
)
model_option = click.option("--model", help="Embedding model: hub id or path.")


@click.group(cls=_Group)
@click.version_option(package_name="herein")
def main() -> None:
    """herein: ask questions over a folder of documents, get cited passages back."""


@main.command()
@corpus_option
@index_option
@model_option
def build(corpus_dir: Path | None, index_dir: Path | None, model: str | None) -> None:
    """Index the corpus into a new generation and make it current."""
    settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir, model=model)
    _build(settings, _load_embedder(settings))


@main.command()
@corpus_option
@index_option
@model_option
@click.option("--host", help="Address to listen on [127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), help="Port to listen on [8000].")
def serve(
    corpus_dir: Path | None,
    index_dir: Path | None,
    model: str | None,
    host: str | None,
    port: int | None,
) -> None:
    """Serve the HTTP API, building the index first if there is none."""
    import uvicorn

    from service.api import create_app

    settings = _settings(
        corpus_dir=corpus_dir, index_dir=index_dir, model=model, host=host, port=port
    )
    embedder = _load_embedder(settings)
    try:
        searcher = Searcher.open(embedder, settings.index_dir)
    except IndexNotFound:
        _build(settings, embedder)
        searcher = Searcher.open(embedder, settings.index_dir)
    if settings.corpus_dir.is_dir():
        changes = corpus_changes(settings.corpus_dir, searcher.index)
        if changes:
            listed = ", ".join(changes[:5]) + (" ..." if len(changes) > 5 else "")
            click.echo(
                f"The corpus has changed since generation {searcher.index.version} was built "
                f"({len(changes)} files: {listed}); run `herein build` to index the changes.",
                err=True,
            )
    click.echo(
        f"Serving generation {searcher.index.version} on http://{settings.host}:{settings.port}",
        err=True,
    )
    uvicorn.run(create_app(settings, searcher), host=settings.host, port=settings.port)


@main.command()
@click.argument("question")
@click.option("-k", type=click.IntRange(1, 50), default=5, show_default=True, help="Passages.")
@index_option
@model_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def ask(question: str, k: int, index_dir: Path | None, model: str | None, as_json: bool) -> None:
    """Answer a question from the index, in this process (no server needed)."""
    settings = _settings(index_dir=index_dir, model=model)
    searcher = Searcher.open(_load_embedder(settings), settings.index_dir)
    result = searcher.search(question, k)
    click.echo(
        json.dumps(asdict(result), indent=2, ensure_ascii=False) if as_json else _render(result)
    )


def _render(result: SearchResult) -> str:
    lines = []
    for passage in result.passages:
        c = passage.citation
        where = f"lines {c.line_start}-{c.line_end}"
        if c.page is not None:
            where = f"page {c.page}" + (f"-{c.page_end}" if c.page_end != c.page else "")
        heading = f" § {' > '.join(c.heading)}" if c.heading else ""
        span = f"chars {c.start}-{c.end}"
        lines.append(f"{passage.rank}. [{passage.score:.3f}] {c.source}, {where}{heading} ({span})")
        lines.extend(f"   {line}" for line in passage.text.splitlines() if line.strip())
        lines.append("")
    return "\n".join(lines).rstrip() or "No passages."
