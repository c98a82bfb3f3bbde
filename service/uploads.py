"""Files added to or removed from the corpus over HTTP, checked before anything is written.

A batch is all or nothing: every file is checked first (name, type, size, collisions),
and only then written, each to a hidden temporary name and renamed into place.
"""

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from service.documents import CONTENT_TYPES
from service.errors import (
    BadFileName,
    DocumentNotFound,
    FileExists,
    FileTooLarge,
    UnsupportedFileType,
)

# Files one upload request may carry; with the per-file cap this bounds the request body.
MAX_BATCH_FILES = 100
# What one multipart part's boundary and headers may add to its file.
_PART_OVERHEAD = 4096


def check_request_size(content_length: int, max_bytes: int) -> None:
    """Refuse an upload request longer than a full batch of files at the cap can be.

    Raises FileTooLarge; meant to run before the body is read.
    """
    limit = MAX_BATCH_FILES * (max_bytes + _PART_OVERHEAD)
    if content_length > limit:
        raise FileTooLarge(
            f"The upload is {content_length} bytes, more than {MAX_BATCH_FILES} files "
            f"at the cap can be; the cap is {max_bytes} bytes a file"
        )


@dataclass(frozen=True)
class Upload:
    """One uploaded file: the name it asks for, its size in bytes, and its content."""

    name: str
    size: int
    content: BinaryIO


def save_uploads(
    corpus_dir: Path, uploads: Sequence[Upload], max_bytes: int, overwrite: bool = False
) -> list[str]:
    """Write the files into the corpus root; the sources written, in order.

    Raises an UploadRefused error for the first bad file, with nothing written.
    """
    if not uploads:
        raise BadFileName("No files in the upload")
    targets = [_target(corpus_dir, upload, max_bytes, overwrite) for upload in uploads]
    names = [upload.name for upload in uploads]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise BadFileName(f"The batch names {duplicates[0]!r} more than once")
    written: list[Path] = []
    try:
        for upload, target in zip(uploads, targets, strict=True):
            # Hidden while partial: the corpus scan and the watcher ignore dot-names.
            temporary = target.with_name(f".{target.name}.upload")
            upload.content.seek(0)
            with open(temporary, "wb") as handle:
                shutil.copyfileobj(upload.content, handle)
            written.append(temporary)
        for temporary, target in zip(written, targets, strict=True):
            os.replace(temporary, target)
    finally:
        for temporary in written:
            temporary.unlink(missing_ok=True)
    return names


def remove_document(corpus_dir: Path, source: str) -> None:
    """Delete a document's file from the corpus; raises DocumentNotFound."""
    root = corpus_dir.resolve()
    path = corpus_dir / source
    inside = ".." not in Path(source).parts and not Path(source).is_absolute()
    if not inside or not path.parent.resolve().is_relative_to(root) or not path.is_file():
        raise DocumentNotFound(f"No file {source!r} in the corpus")
    # A link is removed itself, never what it points to.
    path.unlink()


def _target(corpus_dir: Path, upload: Upload, max_bytes: int, overwrite: bool) -> Path:
    name = upload.name
    if (
        not name
        or name in (".", "..")
        or name.startswith(".")
        or any(mark in name for mark in ("/", "\\", "..", "\0"))
    ):
        raise BadFileName(f"Bad file name {name!r}: give a plain name, no folders or dot-names")
    suffix = Path(name).suffix.lower()
    if suffix not in CONTENT_TYPES:
        raise UnsupportedFileType(
            f"{name!r}: unsupported file type {suffix or '(none)'!r}; "
            f"use one of {', '.join(sorted(CONTENT_TYPES))}"
        )
    if upload.size > max_bytes:
        raise FileTooLarge(f"{name!r} is {upload.size} bytes; the cap is {max_bytes}")
    root = corpus_dir.resolve()
    target = corpus_dir / name
    # resolve() follows a link already in the corpus: writing through it must stay inside.
    if target.resolve().parent != root:
        raise BadFileName(f"{name!r} resolves outside the corpus")
    if os.path.lexists(target) and not overwrite:
        raise FileExists(f"{name!r} is already in the corpus; pass ?overwrite=true to replace it")
    if target.is_dir():
        raise BadFileName(f"{name!r} is a folder in the corpus")
    return target
