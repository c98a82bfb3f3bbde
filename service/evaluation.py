"""Datasets -> retrieval metrics: nDCG@10, recall, MRR, hits, not-found precision/recall, latency.

Two dataset shapes are read:
- a BEIR folder: `corpus.jsonl[.gz]`, `queries.jsonl`, `qrels/<split>.tsv`; a document is
  its title and text, and a document's rank is that of its best passage;
- the project's QA file (JSONL): `{"id", "question", "gold": [{"source", "snippet"}]}`; a
  passage hits a gold when it is from `source` and contains `snippet` (white space
  collapsed); an empty `gold` means the documents do not answer the question.
Every query goes through `Searcher.search`, the same search the CLI and the API use.
"""

import gzip
import hashlib
import json
import math
import re
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote, unquote

from service.answerable import lacks_answer
from service.embedding import Embedder
from service.errors import InvalidDataset, InvalidQuery
from service.indexing import build_index
from service.models import Mode, Passage
from service.search import Searcher, validate_question
from service.store import INDEX_FORMAT, Index

MODES: tuple[Mode, ...] = ("dense", "keyword", "hybrid")


@dataclass(frozen=True)
class Gold:
    """A passage that answers: from this source, containing this snippet."""

    source: str
    snippet: str


@dataclass(frozen=True)
class Query:
    """A question and what answers it: graded document ids (BEIR) or gold passages (QA)."""

    query_id: str
    question: str
    relevant: dict[str, int] = field(default_factory=dict)
    gold: tuple[Gold, ...] = ()

    @property
    def answerable(self) -> bool:
        "Whether anything in the corpus answers it"
        return bool(self.relevant or self.gold)


@dataclass(frozen=True)
class Dataset:
    """Queries, and whether passages are judged per document (BEIR) or per gold (QA)."""

    name: str
    queries: list[Query]
    by_document: bool


@dataclass(frozen=True)
class Outcome:
    """One query's result as eval needs it: gains by rank, confidences, time."""

    query: Query
    gains: list[int]
    # Best confidence among the highlighted passages as retrieved, and with the gold documents
    # left out (BEIR), which makes the query unanswerable.
    confidence: float
    confidence_without_gold: float
    answer_found: bool
    took_ms: float
    # Whether those passages cannot answer (see answerable.lacks_answer):
    # then the search says not found at any threshold.
    lacking: bool = False
    lacking_without_gold: bool = False
    # QA only, when the first passage hits a gold and has a highlight: whether the
    # highlight shares text with that gold's snippet (None otherwise).
    highlight_on_gold: bool | None = None


@dataclass(frozen=True)
class Report:
    """Metrics of one retrieval mode over a dataset."""

    mode: Mode
    metrics: dict[str, float]
    outcomes: list[Outcome]


def load_qa(path: Path) -> Dataset:
    """The project's QA file: one JSON object per line. Raises InvalidDataset naming the
    line of the first bad record, a repeated id, or a file without questions."""
    if path.is_dir():
        raise InvalidDataset(f"{path} is a folder without queries.jsonl: not a BEIR folder")
    queries: list[Query] = []
    lines: dict[str, int] = {}  # each id's line
    for number, line in _numbered_lines(path):
        query = _qa_record(line, f"{path}:{number}")
        if query.query_id in lines:
            raise InvalidDataset(
                f"{path}:{number}: id {query.query_id!r} is already used on line "
                f"{lines[query.query_id]}"
            )
        lines[query.query_id] = number
        queries.append(query)
    if not queries:
        raise InvalidDataset(f"{path} holds no questions")
    return Dataset(path.stem, queries, by_document=False)


def _qa_record(line: str, where: str) -> Query:
    """One QA line as a query; raises InvalidDataset naming `where` and what is wrong."""
    try:
        record = json.loads(line)
    except ValueError as error:
        raise InvalidDataset(f"{where}: not JSON ({error})") from error
    if not isinstance(record, dict) or not {"id", "question", "gold"} <= record.keys():
        raise InvalidDataset(
            f'{where}: expected an object with "id", "question" and "gold", got {line[:80]!r}'
        )
    question, gold = record["question"], record["gold"]
    if not isinstance(question, str):
        raise InvalidDataset(f'{where}: "question" must be text, got {json.dumps(question)[:80]}')
    try:
        validate_question(question)
    except InvalidQuery as error:
        raise InvalidDataset(f"{where}: id {record['id']!r}: {error}") from error
    if not isinstance(gold, list) or not all(
        isinstance(g, dict)
        and isinstance(g.get("source"), str)
        and isinstance(g.get("snippet"), str)
        and g["snippet"].strip()
        for g in gold
    ):
        raise InvalidDataset(
            f'{where}: "gold" must be a list of {{"source", "snippet"}} objects with text '
            f"(empty when nothing answers), got {json.dumps(gold)[:80]}"
        )
    answers = tuple(Gold(g["source"], g["snippet"]) for g in gold)
    return Query(str(record["id"]), question, gold=answers)


def check_gold(index: Index, dataset: Dataset) -> None:
    """Raise InvalidDataset naming each gold source that is no document of the index, or
    else each gold snippet that its source's text does not hold (white space collapsed):
    a question whose answer is in a missing file, or misquoted, could never hit."""
    known = index.sources()
    unknown = [
        f"{query.query_id} ({gold.source!r})"
        for query in dataset.queries
        for gold in query.gold
        if gold.source not in known
    ]
    if unknown:
        more = f"; and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise InvalidDataset(
            f"{dataset.name}: gold source is no document of the corpus (sources are paths "
            "relative to the corpus folder): " + "; ".join(unknown[:5]) + more
        )
    texts: dict[str, str] = {}
    misquoted = []
    for query in dataset.queries:
        for gold in query.gold:
            if gold.source not in texts:
                texts[gold.source] = _collapse(index.document(gold.source)[1])
            if _collapse(gold.snippet) not in texts[gold.source]:
                misquoted.append(f"{query.query_id} ({gold.snippet!r} in {gold.source!r})")
    if misquoted:
        more = f"; and {len(misquoted) - 5} more" if len(misquoted) > 5 else ""
        raise InvalidDataset(
            f"{dataset.name}: gold snippet not in its source's text, white space collapsed: "
            + "; ".join(misquoted[:5])
            + more
        )


def load_beir(folder: Path, split: str = "test") -> Dataset:
    """A BEIR folder's queries that have judgements in qrels/<split>.tsv. Raises
    InvalidDataset naming the missing file, or the file and line of a malformed record,
    before any model loads."""
    beir_corpus_file(folder)
    qrels = folder / "qrels" / f"{split}.tsv"
    if not qrels.is_file():
        splits = ", ".join(sorted(path.stem for path in qrels.parent.glob("*.tsv"))) or "none"
        raise InvalidDataset(f"{qrels} is missing: the splits of {folder} are {splits}")
    relevant: dict[str, dict[str, int]] = {}
    for number, line in _numbered_lines(qrels):
        fields = line.split("\t")
        scored = fields[-1].strip().lstrip("-").isdigit()
        if number == 1 and not scored:
            continue  # the header: "query-id  corpus-id  score"
        if len(fields) != 3 or not scored:
            raise InvalidDataset(
                f"{qrels}:{number}: expected a query id, a document id and a whole-number "
                f"score apart by tabs, got {line[:80]!r}"
            )
        if int(fields[2]) > 0:
            relevant.setdefault(fields[0], {})[fields[1]] = int(fields[2])
    queries = []
    for number, line in _numbered_lines(folder / "queries.jsonl"):
        where = f"{folder / 'queries.jsonl'}:{number}"
        try:
            record = json.loads(line)
        except ValueError as error:
            raise InvalidDataset(f"{where}: not JSON ({error})") from error
        if not isinstance(record, dict) or "_id" not in record or "text" not in record:
            raise InvalidDataset(f'{where}: expected an object with "_id" and "text"')
        if str(record["_id"]) in relevant:
            query_id = str(record["_id"])
            queries.append(Query(query_id, str(record["text"]), relevant[query_id]))
    if not queries:
        raise InvalidDataset(f"{folder}: no query of queries.jsonl is judged in {qrels}")
    return Dataset(f"{folder.name}-{split}", queries, by_document=True)


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The file's lines that hold more than white space, numbered from 1; InvalidDataset
    when it is not UTF-8."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InvalidDataset(f"{path} is not UTF-8 text ({error})") from error
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def beir_corpus_file(folder: Path) -> Path:
    """corpus.jsonl.gz or corpus.jsonl in a BEIR folder."""
    for name in ("corpus.jsonl.gz", "corpus.jsonl"):
        if (folder / name).is_file():
            return folder / name
    raise InvalidDataset(f"{folder} has no corpus.jsonl or corpus.jsonl.gz")


def is_beir(path: Path) -> bool:
    "Whether path is a BEIR folder"
    return path.is_dir() and (path / "queries.jsonl").is_file()


def write_beir_corpus(folder: Path, corpus_dir: Path, limit: int | None = None) -> int:
    """Write each BEIR document (the first `limit`) as `<quoted id>.md` (`# title`, then
    text); returns how many.

    The index is then built by the ordinary build, so eval measures herein's own
    reading, chunking and embedding.
    """
    corpus_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for record in read_jsonl(beir_corpus_file(folder)):
        if count == limit:
            break
        title = " ".join(str(record.get("title") or "").split())
        text = str(record.get("text") or "").strip()
        body = f"# {title}\n\n{text}\n" if title else f"{text}\n"
        (corpus_dir / beir_source(str(record["_id"]))).write_text(body, encoding="utf-8")
        count += 1
    return count


def beir_source(document_id: str) -> str:
    "File name of a BEIR document in the eval corpus"
    return quote(document_id, safe="") + ".md"


def beir_document_id(source: str) -> str:
    "BEIR document id of an eval corpus file"
    return unquote(source.removesuffix(".md"))


def read_jsonl(path: Path) -> Iterator[dict[str, object]]:
    """Rows of a .jsonl or .jsonl.gz file."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def cache_key(*parts: object) -> str:
    """A short hash naming a cached index: what was indexed and how."""
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


def folder_digest(folder: Path) -> str:
    """A hash of every file's relative path and bytes under folder."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def cached_index(
    dataset_path: Path,
    corpus_dir: Path | None,
    cache_dir: Path,
    embedder: Embedder,
    chunk_tokens: int = 128,
    overlap_tokens: int = 32,
    batch_size: int = 64,
    log: Callable[[str], None] = lambda message: None,
) -> Path:
    """The index folder for this dataset and settings, built on first use and then reused.

    A BEIR dataset brings its own corpus; a QA file is asked of `corpus_dir`.
    """
    beir = is_beir(dataset_path)
    if beir:
        content = hashlib.sha256(beir_corpus_file(dataset_path).read_bytes()).hexdigest()
        name = dataset_path.name
    elif corpus_dir is not None:
        content, name = folder_digest(corpus_dir), corpus_dir.name
    else:
        raise ValueError(f"{dataset_path} is a QA file: it needs the corpus it asks about")
    key = cache_key(content, embedder.fingerprint, chunk_tokens, overlap_tokens)
    folder = cache_dir / f"{name}-{key}"
    index_dir = folder / "index"
    if (index_dir / "CURRENT").is_file():
        index = Index.open(index_dir)
        current = index.manifest.index_format == INDEX_FORMAT
        index.close()
        if current:
            log(f"Reusing the index in {index_dir}")
            return index_dir
        # Written by an older herein: rebuilt, with the vectors it already has.
    if beir or corpus_dir is None:
        corpus_dir = folder / "corpus"
        if not corpus_dir.is_dir():
            log(f"Writing {dataset_path.name}'s corpus into {corpus_dir}")
            write_beir_corpus(dataset_path, corpus_dir)
    build_index(corpus_dir, index_dir, embedder, chunk_tokens, overlap_tokens, batch_size, log=log)
    return index_dir


def evaluate(
    searcher: Searcher,
    dataset: Dataset,
    modes: Sequence[Mode] = MODES,
    depth: int = 100,
) -> list[Report]:
    """Run every query in each mode; metrics per mode, in the order given. Raises
    InvalidDataset when a QA set's gold cannot hit (see check_gold).

    Args:
        depth: ranked units (documents or passages) kept per query, for Recall@100.
    """
    if not dataset.by_document:
        check_gold(searcher.index, dataset)
    reports = []
    for mode in modes:
        moded = Searcher(searcher.embedder, searcher.index, replace(searcher.retrieval, mode=mode))
        outcomes = [run_query(moded, dataset, query, depth) for query in dataset.queries]
        reports.append(
            Report(mode, summarise(outcomes, moded.retrieval.answer_threshold), outcomes)
        )
    return reports


def run_query(searcher: Searcher, dataset: Dataset, query: Query, depth: int) -> Outcome:
    """Search once and judge the ranking."""
    # Documents have a few passages each; ask for enough to rank `depth` documents.
    k = 3 * depth if dataset.by_document else depth
    result = searcher.search(query.question, k=k)
    passages = result.passages
    gains = judge_documents(query, passages) if dataset.by_document else judge_gold(query, passages)
    top = passages[: max(1, searcher.retrieval.highlighted)]
    # Leaving the gold documents out of the index would leave the other passages, in the
    # same order: those highlighted here carry the same confidence they would then.
    without = [p for p in top if beir_document_id(p.citation.source) not in query.relevant]
    return Outcome(
        query,
        gains[:depth],
        max((p.confidence for p in top), default=0.0),
        max((p.confidence for p in without), default=0.0),
        result.answer_found,
        result.took_ms,
        lacks_answer(query.question, top),
        lacks_answer(query.question, without),
        None if dataset.by_document or not passages else highlight_on_gold(query, passages[0]),
    )


def highlight_on_gold(query: Query, passage: Passage) -> bool | None:
    """Whether the passage's highlight overlaps a gold snippet it holds; None when it
    holds none or has no highlight."""
    if not passage.highlights:
        return None
    h = passage.highlights[0]
    start, end = h.start - passage.citation.start, h.end - passage.citation.start
    found = [
        span
        for gold in query.gold
        if gold.source == passage.citation.source
        for span in _find_collapsed(passage.text, gold.snippet)
    ]
    if not found:
        return None
    return any(start < b and a < end for a, b in found)


def _find_collapsed(text: str, snippet: str) -> list[tuple[int, int]]:
    """Every place the snippet is in text, both white space collapsed, in text's offsets."""
    wanted = _collapse(snippet)
    if not wanted:
        return []
    origin: list[int] = []  # each collapsed character's offset in text
    parts: list[str] = []
    for match in re.finditer(r"\S+", text):
        if parts:
            parts.append(" ")
            origin.append(match.start() - 1)
        parts.append(match.group())
        origin.extend(range(match.start(), match.end()))
    collapsed = "".join(parts)
    starts = [m.start() for m in re.finditer(f"(?={re.escape(wanted)})", collapsed)]
    return [(origin[at], origin[at + len(wanted) - 1] + 1) for at in starts]


def judge_documents(query: Query, passages: Sequence[Passage]) -> list[int]:
    """Grades of the distinct documents, in the order of their best passage."""
    seen: dict[str, int] = {}
    for passage in passages:
        document_id = beir_document_id(passage.citation.source)
        if document_id not in seen:
            seen[document_id] = query.relevant.get(document_id, 0)
    return list(seen.values())


def judge_gold(query: Query, passages: Sequence[Passage]) -> list[int]:
    """1 where a passage hits a gold passage not hit higher up, else 0."""
    remaining = list(query.gold)
    gains = []
    for passage in passages:
        text = _collapse(passage.text)
        hit = next(
            (
                g
                for g in remaining
                if g.source == passage.citation.source and _collapse(g.snippet) in text
            ),
            None,
        )
        if hit is not None:
            remaining.remove(hit)
        gains.append(int(hit is not None))
    return gains


def _collapse(text: str) -> str:
    return " ".join(text.split())


def summarise(outcomes: Sequence[Outcome], threshold: float) -> dict[str, float]:
    """Mean metrics over the answerable queries, not-found figures, latency percentiles."""
    answerable = [o for o in outcomes if o.query.answerable]
    metrics: dict[str, float] = {}
    if answerable:
        metrics["nDCG@10"] = _mean(_ndcg(o, 10) for o in answerable)
        metrics["Recall@10"] = _mean(_recall(o, 10) for o in answerable)
        metrics["Recall@100"] = _mean(_recall(o, 100) for o in answerable)
        metrics["MRR@10"] = _mean(_reciprocal_rank(o, 10) for o in answerable)
        metrics["hit@1"] = _mean(float(any(o.gains[:1])) for o in answerable)
        metrics["hit@5"] = _mean(float(any(o.gains[:5])) for o in answerable)
    judged = [o.highlight_on_gold for o in answerable if o.highlight_on_gold is not None]
    if judged:
        # Of the first passages that hit, the share whose highlight marks the gold.
        metrics["highlight on gold@1"] = _mean([float(hit) for hit in judged])
    if has_unanswerable(outcomes):  # else there is nothing to find not found
        precision, recall = not_found_scores(outcomes, threshold)
        metrics["not-found precision"] = precision
        metrics["not-found recall"] = recall
    times = sorted(o.took_ms for o in outcomes)
    if times:
        metrics["p50 ms"] = statistics.median(times)
        metrics["p95 ms"] = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
    return metrics


def not_found_cases(outcomes: Sequence[Outcome]) -> list[tuple[float, bool]]:
    """(confidence, answerable) for every case: QA queries as they are; every BEIR query
    twice, as retrieved and with its gold documents left out. A case whose passages lack
    the answer asked for is not found at any threshold: its confidence counts as -inf."""

    def deciding(confidence: float, lacking: bool) -> float:
        return -math.inf if lacking else confidence

    cases = []
    for o in outcomes:
        if o.query.relevant:
            cases.append((deciding(o.confidence, o.lacking), True))
            cases.append((deciding(o.confidence_without_gold, o.lacking_without_gold), False))
        else:
            cases.append((deciding(o.confidence, o.lacking), o.query.answerable))
    return cases


def has_unanswerable(outcomes: Sequence[Outcome]) -> bool:
    """Whether any case is unanswerable: every BEIR query without its gold, QA's empty gold."""
    return any(not answerable for _, answerable in not_found_cases(outcomes))


def not_found_scores(outcomes: Sequence[Outcome], threshold: float) -> tuple[float, float]:
    """Precision and recall of saying "not found" (confidence below threshold)."""
    cases = not_found_cases(outcomes)
    said = [answerable for confidence, answerable in cases if confidence < threshold]
    unanswerable = sum(1 for _, answerable in cases if not answerable)
    correct = sum(1 for answerable in said if not answerable)
    precision = correct / len(said) if said else 1.0
    recall = correct / unanswerable if unanswerable else 1.0
    return precision, recall


def calibrate_threshold(outcomes: Sequence[Outcome]) -> float:
    """The confidence threshold that classifies the most cases right (ties: the lowest)."""
    cases = sorted(not_found_cases(outcomes))
    if not cases:
        return 0.0
    candidates = [0.0] + [
        round(confidence + 1e-4, 4) for confidence, _ in cases if math.isfinite(confidence)
    ]
    return max(candidates, key=lambda threshold: (_right(cases, threshold), -threshold))


def classified_right(outcomes: Sequence[Outcome], threshold: float) -> int:
    """How many not-found cases (see not_found_cases) this threshold decides right."""
    return _right(not_found_cases(outcomes), threshold)


def _right(cases: Sequence[tuple[float, bool]], threshold: float) -> int:
    return sum((confidence >= threshold) == answerable for confidence, answerable in cases)


def _mean(values: Iterator[float] | list[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def _ideal(outcome: Outcome) -> list[int]:
    query = outcome.query
    return (
        sorted(query.relevant.values(), reverse=True) if query.relevant else [1] * len(query.gold)
    )


def _ndcg(outcome: Outcome, k: int) -> float:
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(outcome.gains[:k]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(_ideal(outcome)[:k]))
    return dcg / ideal if ideal else 0.0


def _recall(outcome: Outcome, k: int) -> float:
    found = sum(1 for g in outcome.gains[:k] if g > 0)
    return found / len(_ideal(outcome))


def _reciprocal_rank(outcome: Outcome, k: int) -> float:
    return next((1 / (i + 1) for i, g in enumerate(outcome.gains[:k]) if g > 0), 0.0)


def format_reports(dataset: Dataset, reports: Sequence[Report]) -> str:
    """The metrics side by side, one column per mode."""
    names = list(dict.fromkeys(name for report in reports for name in report.metrics))
    header = f"{dataset.name} ({len(dataset.queries)} queries)"
    lines = [f"{header:<28}" + "".join(f"{r.mode:>10}" for r in reports)]
    for name in names:
        cells = "".join(f"{r.metrics.get(name, float('nan')):>10.4f}" for r in reports)
        lines.append(f"{name:<28}{cells}")
    return "\n".join(lines)
