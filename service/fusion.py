"""Two rankings of the same chunks -> one: reciprocal rank fusion or weighted min-max fusion."""

from collections.abc import Collection, Mapping, Sequence

Scores = Mapping[int, float]


def fuse_weighted(dense: Scores, keyword: Scores, dense_weight: float = 0.5) -> dict[int, float]:
    """Weighted sum of the two scores, each min-max scaled to 0..1 over the union of rows.

    A row missing from one ranking gets that ranking's lowest score.
    """
    return _weighted_sum(dense, keyword, dense_weight, "dense_weight")


def blend(passage: Scores, document: Scores, document_weight: float) -> dict[int, float]:
    """One keyword score per row: its passage's and its surroundings' (its block's in
    the document), each min-max scaled.

    Both map the same rows; `document_weight` is the surroundings' share.
    """
    return _weighted_sum(document, passage, document_weight, "document_weight")


def boost(scores: Scores, rows: Collection[int], share: float) -> dict[int, float]:
    """The scores with `share` of their spread (highest minus lowest) added to these rows'.

    Measured in the scores' own spread, the same share moves a row as far under
    weighted fusion (0..1) as under reciprocal rank fusion (about 0.03).
    """
    if share < 0:
        raise ValueError(f"share ({share}) must not be negative")
    if not scores:
        return {}
    lift = share * spread(list(scores.values()))
    return {row: score + (lift if row in rows else 0.0) for row, score in scores.items()}


def spread(scores: Sequence[float]) -> float:
    """Highest minus lowest score, the unit of a lift that means the same on any scale.

    Equal scores have no spread: their size then stands in (1 for zeros or none), so a
    lift, in their own scale, still breaks the tie.
    """
    if not scores:
        return 1.0
    return (max(scores) - min(scores)) or max(abs(score) for score in scores) or 1.0


def fuse_reciprocal_rank(dense: Scores, keyword: Scores, k: int = 60) -> dict[int, float]:
    """Sum over rankings of 1 / (k + rank); a row missing from a ranking gets nothing from it."""
    if k < 0:
        raise ValueError(f"k ({k}) must not be negative")
    fused: dict[int, float] = {}
    for scores in (dense, keyword):
        ranked = sorted(scores, key=lambda row: (-scores[row], row))
        for rank, row in enumerate(ranked, start=1):
            fused[row] = fused.get(row, 0.0) + 1 / (k + rank)
    return fused


def _weighted_sum(first: Scores, second: Scores, weight: float, name: str) -> dict[int, float]:
    """weight x first + (1 - weight) x second, each min-max scaled over the union of rows."""
    if not 0 <= weight <= 1:
        raise ValueError(f"{name} ({weight}) must be between 0 and 1")
    rows = set(first) | set(second)
    first_scaled = _min_max(first, rows)
    second_scaled = _min_max(second, rows)
    return {row: weight * first_scaled[row] + (1 - weight) * second_scaled[row] for row in rows}


def _min_max(scores: Scores, rows: set[int]) -> dict[int, float]:
    if not scores:
        return dict.fromkeys(rows, 0.0)
    low, high = min(scores.values()), max(scores.values())
    if high == low:
        # One distinct score: what it ranked is on top, what it missed at the bottom.
        return {row: 1.0 if row in scores else 0.0 for row in rows}
    return {row: (scores.get(row, low) - low) / (high - low) for row in rows}
