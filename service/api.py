"""The HTTP API: ask, browse documents, health, and the admin routes that change the corpus.

Errors become 4xx/5xx here and only here.
"""

import html
import logging
import secrets
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as FormFile

from service import __version__
from service.config import Settings
from service.documents import scan_corpus
from service.embedding import Embedder
from service.errors import (
    BadFileName,
    CorpusNotFound,
    DocumentNotFound,
    FileExists,
    FileTooLarge,
    HereinError,
    IndexNotFound,
    InvalidQuery,
    JobNotFound,
    LastDocument,
    RebuildRunning,
    UnreadableUpload,
    UnsupportedFileType,
)
from service.followup import MAX_HISTORY, MAX_HISTORY_CHARS
from service.indexing import corpus_changes
from service.jobs import Job, Jobs
from service.live import LiveSearcher
from service.models import SearchResult
from service.search import MAX_K, MAX_QUESTION_CHARS, Searcher, validate_question
from service.store import DocumentInfo
from service.uploads import (
    MAX_BATCH_FILES,
    Upload,
    check_request_size,
    remove_document,
    save_uploads,
)
from service.watching import watch_corpus

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
# The service's own pages run only their own scripts; document text is escaped, never markup.
PAGE_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'"
)
# Titles the demo page lists before "and N more".
DEMO_TITLES = 10

SCORE_DOC = (
    "The ranking score. In hybrid mode (the default) it fuses the passage's cosine "
    "similarity and its BM25 keyword score, each scaled 0..1 over the candidates (plus "
    "a small lift when its title or headings name a year or a model the question names); "
    "in dense mode it starts from the cosine similarity, in keyword mode from BM25. The "
    "highlighted passages then gain a share of their best sentence's cosine. It only "
    "orders the passages of this one answer."
)
CONFIDENCE_DOC = (
    "Cosine similarity between the question's and the passage's embeddings "
    "(all-MiniLM-L6-v2 by default): about 0.5 and above is a close match, around 0.2 "
    "and below is unrelated. Comparable across questions within one index and model; "
    "`answer_found` compares the best one with HEREIN_ANSWER_THRESHOLD."
)


class AskRequest(BaseModel):
    """A question to answer from the documents."""

    model_config = ConfigDict(extra="forbid")

    question: StrictStr = Field(
        max_length=MAX_QUESTION_CHARS, description="The question, in plain words."
    )
    k: StrictInt = Field(5, ge=1, le=MAX_K, description="How many passages to return.")
    history: list[Annotated[StrictStr, Field(max_length=MAX_HISTORY_CHARS)]] = Field(
        default_factory=list,
        max_length=MAX_HISTORY,
        description="The conversation's earlier questions, newest last. A follow-up that "
        "leans on them (“When was it launched?”) is searched with them.",
    )
    sources: list[Annotated[StrictStr, Field(min_length=1, max_length=1000)]] | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Only search documents whose source path starts with one of these "
        'prefixes, e.g. ["reports/"] (case-sensitive, relative to the corpus; a 422 names any '
        "prefix that no document matches). Omit it to search everything.",
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, question: str) -> str:
        try:
            return validate_question(question)
        except InvalidQuery as error:
            raise ValueError(str(error)) from error


class CitationOut(BaseModel):
    """Where a passage comes from: offsets are Unicode code points into the document text."""

    document_id: str
    source: str = Field(description="Path of the file relative to the corpus.")
    title: str
    start: int = Field(description="Offset of the passage's first character.")
    end: int = Field(description="Offset just past the passage's last character.")
    line_start: int = Field(description="1-based line of the first character.")
    line_end: int = Field(description="1-based line of the last character.")
    page: int | None = Field(description="1-based PDF page of the first character.")
    page_end: int | None = Field(description="1-based PDF page of the last character.")
    heading: list[str] = Field(description="Heading path the passage sits under.")


class HighlightOut(BaseModel):
    """A span inside the passage that best answers the question, in document offsets."""

    start: int = Field(description="Offset of the first highlighted character.")
    end: int = Field(description="Offset just past the last highlighted character.")


class PassageOut(BaseModel):
    """One ranked passage, quoted exactly from its document."""

    rank: int
    score: float = Field(description=SCORE_DOC)
    confidence: float = Field(description=CONFIDENCE_DOC)
    chunk_id: str
    text: str
    citation: CitationOut
    highlights: list[HighlightOut] = Field(
        description="Where the answer is: offsets into the document, like the citation's, "
        "always inside the passage. `text[h.start - citation.start : h.end - citation.start]`."
    )


class AskResponse(BaseModel):
    """The best-matching passages, best first."""

    question: str
    answer_found: bool = Field(
        description="Whether a highlighted passage is confident enough to answer the "
        "question, and the passages do not lack what it asks for (an amount of money for "
        "a price, a year or a model it names). When false the passages are still "
        "returned: they are the closest there are."
    )
    passages: list[PassageOut]
    index_version: str
    took_ms: float


class DocumentSummary(BaseModel):
    """A document in the index."""

    document_id: str
    source: str
    title: str
    content_type: str
    chunk_count: int
    pages: int | None


class DocumentList(BaseModel):
    """A page of documents, sorted by id."""

    documents: list[DocumentSummary]
    total: int
    offset: int
    limit: int


class DocumentOut(DocumentSummary):
    """A document's metadata and the exact text citations point into."""

    sha256: str
    text: str
    index_version: str


class SkippedOut(BaseModel):
    """A corpus file that was not indexed."""

    source: str
    reason: str


class Readiness(BaseModel):
    """The index being served."""

    status: str
    index_version: str
    documents: int
    chunks: int
    model: str
    skipped: list[SkippedOut]


class JobOut(BaseModel):
    """A rebuild job: its stage and progress while it runs, then its outcome."""

    job_id: str
    reason: str
    state: str = Field(description="queued, running, succeeded or failed.")
    stage: str | None = Field(
        description="scanning, chunking, embedding, writing or switching; done once it "
        "succeeded (a failed job keeps the stage it failed in)."
    )
    done: int
    total: int
    plan: str | None = Field(description="What the build did: added, changed, removed, reused.")
    version: str | None = Field(description="The generation it made current.")
    created: bool | None = Field(description="False when nothing had changed.")
    error: str | None
    created_at: str
    finished_at: str | None


class ChangeOut(BaseModel):
    """Files written into or removed from the corpus, and the rebuild that follows."""

    sources: list[str]
    job: JobOut


class _State:
    """The live searcher, or why there is none yet; the rebuild jobs; background threads."""

    def __init__(self, searcher: Searcher | None) -> None:
        # A searcher handed in stays its owner's to close; the app closes what it opens.
        self.live = LiveSearcher(searcher, owned=False) if searcher is not None else None
        self.error: str | None = None
        # Set instead while an empty corpus waits for its first documents.
        self.waiting: str | None = None
        self.stop = threading.Event()

    def load(self, settings: Settings) -> None:
        """Load the model and index, retrying every reload interval until the index loads
        (a server may start before the first build), then follow CURRENT."""
        embedder: Embedder | None = None
        while not self.stop.is_set():
            try:
                embedder = embedder or Embedder.load(settings.model)
                searcher = Searcher.open(embedder, settings.index_dir, settings.retrieval_options())
            except IndexNotFound as error:
                waiting = _waiting_for_documents(settings)
                if waiting is None:
                    self._failed(str(error))
                else:
                    if waiting != self.waiting:
                        logger.info("%s", waiting)  # no failure: a new corpus, filled as it goes
                    self.error, self.waiting = None, waiting
            except HereinError as error:
                self._failed(str(error))
            except Exception as error:  # anything else must not leave /readyz "loading" forever
                self._failed(f"Loading the index failed: {error}", trace=True)
            else:
                self.live = LiveSearcher(searcher)
                self.error = self.waiting = None
                self.follow(settings)
                return
            self.stop.wait(settings.reload_seconds)

    def _failed(self, error: str, trace: bool = False) -> None:
        # Logged once, not at every retry.
        if error != self.error:
            logger.error("index not loaded: %s", error, exc_info=trace)
        self.error, self.waiting = error, None

    def follow(self, settings: Settings) -> None:
        if self.live is not None:
            self.live.follow(settings.reload_seconds, self.stop)


def ways_to_add_documents(settings: Settings) -> list[str]:
    """How documents can reach the corpus of a running server: uploads (with an admin
    token) and, with --watch, files dropped in; none without either."""
    ways = ["upload one (POST /v1/documents)"] if settings.admin_token else []
    if settings.watch:
        ways.append(f"drop files into {settings.corpus_dir}")
    return ways


def _waiting_for_documents(settings: Settings) -> str | None:
    """What a server with no index yet waits for, when its corpus is empty and uploads or
    --watch can fill it; None otherwise (then the missing index is an error: a corpus with
    files is built before serving, so its index is elsewhere or was removed)."""
    ways = ways_to_add_documents(settings)
    if not ways:
        return None  # known without walking the corpus, at every retry
    try:
        files, _ = scan_corpus(settings.corpus_dir)
    except CorpusNotFound:
        files = []
    if files:
        return None
    return f"No documents indexed yet: {' or '.join(ways)}, and the index is built then"


_STATUS = {
    DocumentNotFound: 404,
    InvalidQuery: 422,
    JobNotFound: 404,
    RebuildRunning: 409,
    FileExists: 409,
    LastDocument: 409,
    BadFileName: 400,
    UnsupportedFileType: 415,
    UnreadableUpload: 422,
    FileTooLarge: 413,
}
_STATIC_FILES = {"viewer.js": "text/javascript", "herein.css": "text/css"}
# The upload route reads its own body; this describes it in /docs.
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            }
        },
    }
}


def rebuild_command(settings: Settings) -> list[str]:
    """The child process a rebuild job runs: `herein build`, nicer, reporting JSON lines."""
    return [
        sys.executable, "-m", "service", "build",
        "--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir),
        "--model", settings.model, "--nice", str(settings.rebuild_niceness), "--progress-json",
    ]  # fmt: skip


def _corpus_html(page: tuple[list[DocumentInfo], int]) -> str:
    """What the demo page says the service holds: its documents' titles, escaped (a build
    refuses an empty corpus, so there is at least one)."""
    infos, total = page
    items = "".join(f"<li>{html.escape(info.title or info.source)}</li>" for info in infos)
    more = f"<li>and {total - len(infos)} more</li>" if total > len(infos) else ""
    noun = "document" if total == 1 else "documents"
    return f"<p>This service answers from {total} {noun}:</p>\n    <ul>{items}{more}</ul>"


def create_app(settings: Settings, searcher: Searcher | None = None) -> FastAPI:
    """The FastAPI app. Without a searcher, the model and index load in the background.

    Either way the app follows CURRENT and swaps to each new generation as it appears.
    """
    state = _State(searcher)
    jobs = Jobs(rebuild_command(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        target = state.follow if state.live is not None else state.load
        threading.Thread(target=target, args=(settings,), daemon=True).start()
        if settings.watch:
            threading.Thread(
                target=watch_corpus,
                args=(settings.corpus_dir, _on_corpus_change, state.stop),
                kwargs={"quiet_ms": settings.watch_quiet_ms, "ignore": [settings.index_dir]},
                daemon=True,
            ).start()
            if state.live is not None and settings.corpus_dir.is_dir():
                # Files changed while no server watched: no file event will tell.
                with state.live.borrow() as searcher:
                    missed = corpus_changes(settings.corpus_dir, searcher.index)
                if missed:
                    shown = ", ".join(missed[:5]) + (" ..." if len(missed) > 5 else "")
                    logger.info("corpus changed while no server watched: %s", shown)
                    _on_corpus_change(missed)  # "+ a.md", "~ b.txt": what changed, and how
        yield
        state.stop.set()
        jobs.close()
        if state.live is not None:
            state.live.close()

    def _on_corpus_change(sources: list[str]) -> None:
        shown = ", ".join(sources[:3]) + (" ..." if len(sources) > 3 else "")
        jobs.request(f"corpus changed: {shown}")

    # /docs and /redoc with their scripts served from the package, not a CDN: a
    # self-hosted service often runs where the internet is out of reach.
    app = FastAPIOffline(
        title="herein",
        version=__version__,
        description="Ask questions over a folder of documents; get back the passages that "
        "answer them, each with an exact citation.",
        lifespan=lifespan,
    )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        # `curl -d` sends a form: its JSON body was never parsed, so name the header.
        content_type = request.headers.get("content-type", "")
        media = content_type.split(";")[0].strip().lower()
        if (
            media
            and "json" not in media
            and media != "multipart/form-data"
            and any(tuple(e.get("loc", ()))[:1] == ("body",) for e in error.errors())
        ):
            message = f"Send the body as JSON with 'Content-Type: application/json', not {media!r}"
            return JSONResponse({"detail": message}, status_code=415)
        # FastAPI's default echoes the input back, and fails with a 500 on what JSON can
        # carry but not re-encode (NaN, lone surrogates). The message and place suffice.
        detail = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in error.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(HereinError)
    async def _herein_error(request: Request, error: HereinError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=_STATUS.get(type(error), 500))

    def ready_searcher() -> Iterator[Searcher]:
        # Borrowed for the whole request: a swap meanwhile never closes it under us.
        if state.live is None:
            detail = (
                state.error or state.waiting or "The index is still loading; retry in a few seconds"
            )
            raise HTTPException(503, detail, headers={"Retry-After": "2"})
        with state.live.borrow() as searcher:
            yield searcher

    bearer = HTTPBearer(auto_error=False, description="Needed when HEREIN_API_KEY is set.")

    def require_api_key(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        if settings.api_key is not None:
            _check_bearer(credentials, settings.api_key, "API key", "HEREIN_API_KEY", wrong=401)

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)])
    Ready = Annotated[Searcher, Depends(ready_searcher)]

    @v1.post("/ask", response_model=AskResponse)
    def ask(body: AskRequest, searcher: Ready) -> AskResponse:
        """The passages that best answer the question, best first, each with its citation."""
        return _ask_response(searcher.search(body.question, body.k, body.history, body.sources))

    @v1.get("/documents", response_model=DocumentList)
    def list_documents(
        searcher: Ready,
        offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> DocumentList:
        """The indexed documents, sorted by id, a page at a time."""
        infos, total = searcher.index.documents(offset, limit)
        return DocumentList(
            documents=[_summary(info) for info in infos], total=total, offset=offset, limit=limit
        )

    # Registered before the plain route: `{document_id:path}` would swallow "/file".
    @v1.get("/documents/{document_id:path}/file", response_class=FileResponse)
    def document_file(document_id: str, searcher: Ready) -> FileResponse:
        """The document's original file, with its content type."""
        info, _ = searcher.index.document(document_id)
        corpus = settings.corpus_dir.resolve()
        path = (corpus / info.source).resolve()
        if not path.is_relative_to(corpus) or not path.is_file():
            raise HTTPException(404, f"The file of {document_id!r} is no longer in the corpus")
        return FileResponse(path, media_type=info.content_type, filename=Path(info.source).name)

    @v1.get("/documents/{document_id:path}", response_model=DocumentOut)
    def get_document(document_id: str, searcher: Ready) -> DocumentOut:
        """A document's metadata and its full text (what citation offsets point into)."""
        info, text = searcher.index.document(document_id)
        return DocumentOut(
            **_summary(info).model_dump(),
            sha256=info.sha256,
            text=text,
            index_version=searcher.index.version,
        )

    app.include_router(v1)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origin_list,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def demo(request: Request) -> HTMLResponse:
        """A page about the corpus with the widget on it and the snippet to copy."""
        page = (STATIC / "demo.html").read_text(encoding="utf-8")
        origin = html.escape(str(request.base_url).rstrip("/"))
        if state.live is None or settings.api_key is not None:
            # Titles would tell anyone without the key what the corpus holds.
            corpus = "<p>This service answers from a folder of documents.</p>"
        else:
            with state.live.borrow() as searcher:
                corpus = _corpus_html(searcher.index.documents(0, DEMO_TITLES))
        # The origin first: a title that reads "{{HEREIN_URL}}" stays as written.
        page = page.replace("{{HEREIN_URL}}", origin).replace("{{CORPUS}}", corpus)
        return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_POLICY})

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> FileResponse:
        """The chat widget, for any page: `<script src=".../widget.js" defer>`."""
        return FileResponse(STATIC / "widget.js", media_type="text/javascript")

    @app.get("/view/{document_id:path}", include_in_schema=False)
    def viewer(document_id: str) -> FileResponse:
        """The document viewer; viewer.js reads the id from the path and the span from `#`.

        An id the index lacks gets the same page with status 404 (viewer.js says so in
        words); behind an API key, the page cannot tell, so it is always 200.
        """
        status = 200
        if state.live is not None and settings.api_key is None:
            with state.live.borrow() as searcher:
                try:
                    searcher.index.document(document_id)
                except DocumentNotFound:
                    status = 404
        return FileResponse(
            STATIC / "viewer.html",
            status_code=status,
            media_type="text/html",
            headers={"Content-Security-Policy": PAGE_POLICY},
        )

    @app.get("/static/{name}", include_in_schema=False)
    def static_file(name: str) -> FileResponse:
        """The viewer's and demo's script and style."""
        if name not in _STATIC_FILES:
            raise HTTPException(404, f"No static file {name!r}")
        return FileResponse(STATIC / name, media_type=_STATIC_FILES[name])

    app.include_router(_admin_router(settings, jobs, ready_searcher))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up (the index may still be loading)."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=Readiness, responses={503: {"description": "Not ready"}})
    def readyz() -> Readiness | JSONResponse:
        """The index being served, or 503 while it loads or when it failed to."""
        if state.live is None:
            status = "error" if state.error else "waiting" if state.waiting else "loading"
            detail = state.error or state.waiting or "loading the model and index"
            return JSONResponse({"status": status, "detail": detail}, status_code=503)
        with state.live.borrow() as searcher:
            index = searcher.index
            return Readiness(
                status="ready",
                index_version=index.version,
                documents=index.manifest.documents,
                chunks=index.manifest.chunks,
                model=index.manifest.model_name,
                skipped=[SkippedOut(source=s.source, reason=s.reason) for s in index.skipped()],
            )

    return app


def _admin_router(
    settings: Settings, jobs: Jobs, ready_searcher: Callable[[], Iterator[Searcher]]
) -> APIRouter:
    """Routes that change the corpus or the index. Without HEREIN_ADMIN_TOKEN they answer
    404 to everyone and are left out of the OpenAPI schema, as if they did not exist."""
    enabled = settings.admin_token is not None
    bearer = HTTPBearer(auto_error=False, description="HEREIN_ADMIN_TOKEN.")

    def require_admin(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        if settings.admin_token is None:
            raise HTTPException(404, "Not Found")
        _check_bearer(
            credentials, settings.admin_token, "admin token", "HEREIN_ADMIN_TOKEN", wrong=403
        )

    admin = APIRouter(
        prefix="/v1",
        tags=["admin"],
        dependencies=[Depends(require_admin)],
        include_in_schema=enabled,
    )

    # The body is parsed in the route, not by FastAPI: that would read it (spooling every
    # file to disk) before the token is checked.
    @admin.post("/documents", status_code=202, response_model=ChangeOut, openapi_extra=_UPLOAD_BODY)
    async def upload_documents(
        request: Request, overwrite: bool = False, folder: str = ""
    ) -> ChangeOut:
        """Add files to the corpus root, or to `folder` under it (`reports/2024`, made if
        missing), and start a rebuild (queued behind a running one).

        The batch is refused whole, with nothing written, if any file is bad: 400 for a
        name with a folder, `/`, `\\`, `..` or one resolving outside the corpus (likewise
        a bad `folder`), or for more than 100 files, 415 for an unsupported type, 413 over
        the size cap, 409 for a name that exists (unless `overwrite=true`), 422 for a file
        the build could only skip (not UTF-8, no text, a broken PDF). 411 without a
        Content-Length.
        """
        length = request.headers.get("content-length", "")
        if not length.isdigit():
            raise HTTPException(411, "Send the upload with a Content-Length header")
        check_request_size(int(length), settings.max_upload_bytes)
        async with request.form(max_files=MAX_BATCH_FILES, max_fields=MAX_BATCH_FILES) as form:
            uploads = [
                Upload(value.filename or "", value.size or 0, value.file)
                for value in form.getlist("files")
                if isinstance(value, FormFile)
            ]
            sources = await run_in_threadpool(
                save_uploads,
                settings.corpus_dir,
                uploads,
                settings.max_upload_bytes,
                overwrite,
                folder,
            )
        job = jobs.request(f"uploaded {', '.join(sources)}")
        return ChangeOut(sources=sources, job=_job_out(job))

    @admin.delete("/documents/{document_id:path}", status_code=202, response_model=ChangeOut)
    def delete_document(
        document_id: str, searcher: Annotated[Searcher, Depends(ready_searcher)]
    ) -> ChangeOut:
        """Remove a document of the index in use, or a file its build skipped (as
        /readyz lists them), from the corpus and start a rebuild; 409 for the corpus's
        only readable file."""
        # Only what the index knows: never a hidden file or a partial upload.
        try:
            source = searcher.index.document(document_id)[0].source
        except DocumentNotFound:
            if document_id not in {file.source for file in searcher.index.skipped()}:
                raise
            source = document_id
        else:
            files, _ = scan_corpus(settings.corpus_dir)
            skipped = {file.source for file in searcher.index.skipped()}
            if all(file.source == source or file.source in skipped for file in files):
                # Its rebuild would fail on an empty corpus, and this one be served on.
                raise LastDocument(
                    f"{source!r} is the corpus's only readable file; upload another "
                    "first, or replace it (?overwrite=true)"
                )
        remove_document(settings.corpus_dir, source)
        return ChangeOut(sources=[source], job=_job_out(jobs.request(f"deleted {source}")))

    @admin.post(
        "/index/rebuild",
        status_code=202,
        response_model=JobOut,
        responses={409: {"description": "A rebuild is running; the message names its job"}},
    )
    def rebuild() -> JobOut:
        """Start an incremental rebuild in a child process; 409 while one runs."""
        return _job_out(jobs.start("requested"))

    @admin.get("/index/jobs/{job_id}", response_model=JobOut)
    def get_job(job_id: str) -> JobOut:
        """A rebuild job's stage, done/total and outcome."""
        return _job_out(jobs.get(job_id))

    return admin


def _check_bearer(
    credentials: HTTPAuthorizationCredentials | None,
    token: str,
    what: str,
    setting: str,
    wrong: int,
) -> None:
    """Return when the bearer token is `token` (compared in constant time); otherwise
    raise 401 without a token, and `wrong` (401 or 403) with another one."""
    if credentials is None:
        status, problem = 401, f"Missing {what}"
    elif secrets.compare_digest(credentials.credentials.encode(), token.encode()):
        return
    else:
        status, problem = wrong, f"Wrong {what}"
    if status == 401:
        raise HTTPException(
            401,
            f"{problem}: send `Authorization: Bearer <{setting}>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    raise HTTPException(status, problem)


def _job_out(job: Job) -> JobOut:
    return JobOut.model_validate(job, from_attributes=True)


def _ask_response(result: SearchResult) -> AskResponse:
    return AskResponse(
        question=result.question,
        answer_found=result.answer_found,
        passages=[
            PassageOut(
                rank=p.rank,
                score=p.score,
                confidence=p.confidence,
                chunk_id=p.chunk_id,
                text=p.text,
                citation=CitationOut(**asdict(p.citation)),
                highlights=[HighlightOut(start=h.start, end=h.end) for h in p.highlights],
            )
            for p in result.passages
        ],
        index_version=result.index_version,
        took_ms=result.took_ms,
    )


def _summary(info: DocumentInfo) -> DocumentSummary:
    return DocumentSummary.model_validate(info, from_attributes=True)
