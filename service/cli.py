"""The command line: `herein build`, `serve`, `ask`, `eval`, `generations`, `rollback`."""

import json
import logging
import os
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import click
from pydantic import ValidationError

from service.config import Settings, unknown_settings
from service.documents import check_corpus
from service.embedding import Embedder, model_location_is_local
from service.errors import EmptyCorpus, HereinError, IndexNotFound
from service.evaluation import (
    MODES,
    cached_index,
    calibrate_threshold,
    classified_right,
    evaluate,
    format_reports,
    has_unanswerable,
    is_beir,
    load_beir,
    load_qa,
)
from service.indexing import (
    STAGES,
    BuildReport,
    Progress,
    build_index,
    corpus_changes,
    plan_build,
    roll_back,
)
from service.models import Mode, SearchResult
from service.search import Searcher, check_sources, validate_question
from service.store import Index, current_version, list_generations, outdated_note


class _Group(click.Group):
    """Turns herein's errors into a one-line CLI message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HereinError as error:
            raise click.ClickException(str(error)) from error


def _settings(**flags: Any) -> Settings:
    # Flags win over HEREIN_* variables, which win over defaults.
    unknown = unknown_settings(os.environ)
    if unknown:
        raise click.ClickException(f"Unknown setting: {'; '.join(unknown)}")
    try:
        return Settings(**{name: value for name, value in flags.items() if value is not None})
    except ValidationError as error:
        # A check of two settings together has no one setting to name: its message does.
        problems = "; ".join(
            f"HEREIN_{'_'.join(map(str, e['loc'])).upper()}={e.get('input')!r}: {e['msg']}"
            if e["loc"]
            else e["msg"].removeprefix("Value error, ")
            for e in error.errors()
        )
        raise click.ClickException(f"Bad setting: {problems}") from error


def _load_embedder(settings: Settings) -> Embedder:
    if model_location_is_local(settings.model):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never ask the hub for a local model
    click.echo(f"Loading model {settings.model} ...", err=True)
    return Embedder.load(settings.model)


def _build(
    settings: Settings, embedder: Embedder, full: bool = False, progress_json: bool = False
) -> BuildReport:
    click.echo(f"Building the index of {settings.corpus_dir} into {settings.index_dir}", err=True)
    report = build_index(
        settings.corpus_dir,
        settings.index_dir,
        embedder,
        chunk_tokens=settings.chunk_tokens,
        overlap_tokens=settings.overlap_tokens,
        batch_size=settings.batch_size,
        full=full,
        keep_generations=settings.keep_generations,
        progress=_progress(settings, progress_json),
        log=lambda message: click.echo(message, err=True),
    )
    if not report.created:
        click.echo(f"Nothing changed; generation {report.version} stays current", err=True)
    else:
        click.echo(
            f"Built generation {report.version}: {report.documents} documents, "
            f"{report.chunks} chunks, {len(report.skipped)} skipped, in {report.seconds:.1f}s",
            err=True,
        )
    if progress_json:
        _emit({"plan": report.plan, "version": report.version, "created": report.created})
    return report


def _progress(settings: Settings, as_json: bool) -> Progress:
    """Reports stages (as JSON lines on stdout for a server's rebuild job), plus the test hook."""
    kill_at = settings.test_kill_at_stage
    if kill_at is not None and kill_at not in STAGES:
        raise click.BadParameter(
            f"HEREIN_TEST_KILL_AT_STAGE must be one of {', '.join(STAGES)}, got {kill_at!r}"
        )
    reported: set[str] = set()

    def report(stage: str, done: int, total: int) -> None:
        if as_json:
            _emit({"stage": stage, "done": done, "total": total})
        if stage == kill_at:
            # Test-only: die the hardest way, mid-build, to show the index survives it.
            os.kill(os.getpid(), signal.SIGKILL)
        if not as_json and stage not in reported and sys.stderr.isatty():
            click.echo(f"{stage} ...", err=True)
        reported.add(stage)

    return report


def _emit(record: dict[str, Any]) -> None:
    click.echo(json.dumps(record))
    sys.stdout.flush()


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
    # pypdf logs how it copes with a broken file ("EOF marker not found") as warnings; a
    # file it cannot read is reported as skipped, with the reason, so they are only noise.
    logging.getLogger("pypdf").setLevel(logging.ERROR)


@main.command()
@corpus_option
@index_option
@model_option
@click.option("--full", is_flag=True, help="Embed everything again, ignoring the vector cache.")
@click.option("--dry-run", is_flag=True, help="Only print what the build would do.")
@click.option(
    "--nice", "niceness", type=click.IntRange(0, 19), default=0, help="Lower CPU priority by N."
)
@click.option("--progress-json", is_flag=True, hidden=True, help="Stages as JSON lines (stdout).")
def build(
    corpus_dir: Path | None,
    index_dir: Path | None,
    model: str | None,
    full: bool,
    dry_run: bool,
    niceness: int,
    progress_json: bool,
) -> None:
    """Bring the index up to date with the corpus in a new generation and make it current.

    Only text not embedded before with this model is embedded; the plan is printed first
    (`3 added, 1 changed, 2 removed, 412 chunks reused, 9 to embed`).
    """
    if niceness:
        os.nice(niceness)
    settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir, model=model)
    check_corpus(settings.corpus_dir)  # a typo is named before the model takes seconds
    embedder = _load_embedder(settings)
    if dry_run:
        plan = plan_build(
            settings.corpus_dir,
            settings.index_dir,
            embedder,
            settings.chunk_tokens,
            settings.overlap_tokens,
            full=full,
        )
        click.echo(plan.summary())
        for prefix, sources in (("+", plan.added), ("~", plan.changed), ("-", plan.removed)):
            for source in sources:
                click.echo(f"  {prefix} {source}")
        for skipped in plan.skipped:
            click.echo(f"  ! {skipped.source}: {skipped.reason}")
        return
    _build(settings, embedder, full=full, progress_json=progress_json)


@main.command()
@index_option
def generations(index_dir: Path | None) -> None:
    """List the generations kept on disk, oldest first; `*` marks the current one."""
    settings = _settings(index_dir=index_dir)
    current = current_version(settings.index_dir)
    manifests = list_generations(settings.index_dir)
    for manifest in manifests:
        mark = "*" if manifest.version == current else " "
        click.echo(
            f"{mark} {manifest.version}  {manifest.created_at}  {manifest.documents} documents, "
            f"{manifest.chunks} chunks, {manifest.skipped} skipped"
        )
    if current not in {manifest.version for manifest in manifests}:
        # Listed all the same: it is what a server would try to serve.
        click.echo(f"* {current}  damaged or incomplete (no readable manifest): run `herein build`")


@main.command()
@click.argument("version", required=False)
@index_option
def rollback(version: str | None, index_dir: Path | None) -> None:
    """Make an earlier generation current again (by default the one before the current).

    A running server picks it up within a couple of seconds.
    """
    settings = _settings(index_dir=index_dir)
    now = roll_back(settings.index_dir, version)
    click.echo(f"Generation {now} is current", err=True)


@main.command()
@corpus_option
@index_option
@model_option
@click.option("--host", help="Address to listen on [127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), help="Port to listen on [8000].")
@click.option(
    "--watch",
    is_flag=True,
    default=None,
    help="Rebuild when corpus files change, after a quiet period [HEREIN_WATCH].",
)
def serve(
    corpus_dir: Path | None,
    index_dir: Path | None,
    model: str | None,
    host: str | None,
    port: int | None,
    watch: bool | None,
) -> None:
    """Serve the HTTP API, building the index first if there is none. On an empty corpus
    that uploads (HEREIN_ADMIN_TOKEN) or --watch can fill, serve until the first build.

    The server follows CURRENT: a new generation (from its own rebuilds, another
    `herein build`, or `herein rollback`) is served within a couple of seconds.
    """
    import uvicorn

    from service.api import create_app, ways_to_add_documents

    settings = _settings(
        corpus_dir=corpus_dir, index_dir=index_dir, model=model, host=host, port=port, watch=watch
    )
    try:
        current_version(settings.index_dir)
    except IndexNotFound:
        check_corpus(settings.corpus_dir)  # the first build needs it: named before the model loads
    embedder = _load_embedder(settings)
    retrieval = settings.retrieval_options()
    try:
        searcher = Searcher.open(embedder, settings.index_dir, retrieval)
    except IndexNotFound:
        try:
            _build(settings, embedder)
        except EmptyCorpus as error:
            ways = ways_to_add_documents(settings)
            if not ways:
                raise  # nothing could ever add a document: say so and stop
            # A new corpus filled by uploads or, with --watch, by dropping files in: the
            # server answers 503 until its first build, then serves it.
            click.echo(
                f"{error}; serving anyway: {' or '.join(ways)}; /readyz answers 503 until "
                "the first build.",
                err=True,
            )
            del embedder  # the app loads its own in the background, as on a cold start
            _show_service_log()
            uvicorn.run(create_app(settings), host=settings.host, port=settings.port)
            return
        searcher = Searcher.open(embedder, settings.index_dir, retrieval)
    # With --watch the app looks for such changes itself, and rebuilds.
    if settings.corpus_dir.is_dir() and not settings.watch:
        changes = corpus_changes(settings.corpus_dir, searcher.index)
        if changes:
            listed = ", ".join(changes[:5]) + (" ..." if len(changes) > 5 else "")
            files = "1 file" if len(changes) == 1 else f"{len(changes)} files"
            click.echo(
                f"The corpus has changed since generation {searcher.index.version} was built "
                f"({files}: {listed}); run `herein build` to index them.",
                err=True,
            )
    note = outdated_note(searcher.index.manifest)
    if note:
        click.echo(note, err=True)
    click.echo(
        f"Serving generation {searcher.index.version} on http://{settings.host}:{settings.port}",
        err=True,
    )
    _show_service_log()
    uvicorn.run(create_app(settings, searcher), host=settings.host, port=settings.port)


def _show_service_log() -> None:
    """herein's own lines (generation swaps, watched changes, failed jobs) on stderr,
    shaped like uvicorn's; Python shows only warnings and errors otherwise."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    log = logging.getLogger("service")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


@main.command()
@click.argument("question")
@click.option("-k", type=click.IntRange(1, 50), default=5, show_default=True, help="Passages.")
@click.option(
    "--source",
    "sources",
    multiple=True,
    help="Only search documents whose path starts with this (repeatable).",
)
@index_option
@model_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def ask(
    question: str,
    k: int,
    sources: tuple[str, ...],
    index_dir: Path | None,
    model: str | None,
    as_json: bool,
) -> None:
    """Answer a question from the index, in this process (no server needed)."""
    settings = _settings(index_dir=index_dir, model=model)
    # The question, the index and the sources are checked before the model takes seconds
    # to load.
    validate_question(question)
    index = Index.open(settings.index_dir)
    if sources:
        check_sources(index, sources)
    searcher = Searcher(_load_embedder(settings), index, settings.retrieval_options())
    result = searcher.search(question, k, sources=list(sources) or None)
    click.echo(
        json.dumps(asdict(result), indent=2, ensure_ascii=False) if as_json else _render(result)
    )


def _render(result: SearchResult) -> str:
    lines = []
    if result.passages and not result.answer_found:
        lines += ["No passage answers this confidently; the closest are:", ""]
    for passage in result.passages:
        c = passage.citation
        where = f"lines {c.line_start}-{c.line_end}"
        if c.page is not None:
            where = f"page {c.page}" + (f"-{c.page_end}" if c.page_end != c.page else "")
        heading = f" § {' > '.join(c.heading)}" if c.heading else ""
        span = f"chars {c.start}-{c.end}"
        lines.append(
            f"{passage.rank}. [confidence {passage.confidence:.3f}] {c.source}, {where}{heading} "
            f"({span})"
        )
        lines.extend(f"   {line}" for line in passage.text.splitlines() if line.strip())
        for highlight in passage.highlights:
            answer = passage.text[highlight.start - c.start : highlight.end - c.start]
            lines.append(f"   >> {' '.join(answer.split())}")
        lines.append("")
    return "\n".join(lines).rstrip() or "No passages."


@main.command(name="eval")
@click.argument("dataset", type=click.Path(exists=True, path_type=Path))
@corpus_option
@model_option
@click.option(
    "--cache",
    "eval_cache_dir",
    type=click.Path(path_type=Path),
    help="Folder for the indexes eval builds and reuses [./.bench].",
)
@click.option("--split", default="test", show_default=True, help="BEIR qrels split.")
@click.option(
    "--modes",
    default="dense,keyword,hybrid",
    show_default=True,
    help="Comma-separated retrieval modes to compare.",
)
def eval_command(
    dataset: Path,
    corpus_dir: Path | None,
    model: str | None,
    eval_cache_dir: Path | None,
    split: str,
    modes: str,
) -> None:
    """Measure retrieval on a BEIR folder or a QA file (JSONL), each mode side by side.

    A QA file is asked of --corpus. The index is built once into --cache and reused.
    """
    chosen = [mode.strip() for mode in modes.split(",") if mode.strip()]
    unknown = [mode for mode in chosen if mode not in MODES]
    if unknown or not chosen:
        raise click.BadParameter(f"{modes!r}: choose from {', '.join(MODES)}", param_hint="--modes")
    settings = _settings(corpus_dir=corpus_dir, model=model, eval_cache_dir=eval_cache_dir)
    data = load_beir(dataset, split) if is_beir(dataset) else load_qa(dataset)
    embedder = _load_embedder(settings)
    index_dir = cached_index(
        dataset,
        None if is_beir(dataset) else settings.corpus_dir,
        settings.eval_cache_dir,
        embedder,
        settings.chunk_tokens,
        settings.overlap_tokens,
        settings.batch_size,
        log=lambda message: click.echo(message, err=True),
    )
    searcher = Searcher.open(embedder, index_dir, settings.retrieval_options())
    reports = evaluate(searcher, data, cast(list[Mode], chosen))
    click.echo(format_reports(data, reports))
    if has_unanswerable(reports[-1].outcomes):
        outcomes, threshold = reports[-1].outcomes, settings.answer_threshold
        best = calibrate_threshold(outcomes)
        if classified_right(outcomes, threshold) >= classified_right(outcomes, best):
            click.echo(f"answer_threshold {threshold}: none decides more of this set right")
        else:
            click.echo(
                f"answer_threshold {threshold}; the best on this set for "
                f"{reports[-1].mode} would be {best:.4f}"
            )
    else:
        click.echo("no unanswerable questions in this set: not-found is not measured")
