"""Files added to or removed from the corpus over HTTP, checked before anything is written.

A batch is all or nothing: every file is checked first (name, type, size, collisions),
and only then written, each to its own hidden temporary name, and linked into place.
"""

import os
import shutil
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from service.documents import CONTENT_TYPES, load_document
from service.errors import (
    BadFileName,
    DocumentNotFound,
    FileExists,
    FileTooLarge,
    UnreadableDocument,
    UnreadableUpload,
    UnsupportedFileType,
)

# Files one upload request may carry; with the per-file cap this bounds the request body.
MAX_BATCH_FILES = 100
# What one multipart part's boundary and headers may add to its file.
_PART_OVERHEAD = 4096
# The longest file name, in bytes, that common filesystems (ext4, xfs, apfs) take.
_NAME_MAX = 255
# The longest folder path an upload may ask for, in bytes (Linux's PATH_MAX is 4,096,
# and the corpus's own path and the file name come on top).
_PATH_MAX = 1024


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
    corpus_dir: Path,
    uploads: Sequence[Upload],
    max_bytes: int,
    overwrite: bool = False,
    folder: str = "",
) -> list[str]:
    """Write the files into the corpus root, or into `folder` under it ("reports/2024",
    made if missing); the sources written, in order.

    Raises an UploadRefused error for the first bad file or a bad folder, with nothing
    written; a batch that fails while its files are moved into place is undone, and the
    folders it made are removed.
    """
    if not uploads:
        raise BadFileName("No files in the upload")
    parts = _folder_parts(folder)
    destination = corpus_dir.joinpath(*parts)
    made = _folders_to_make(corpus_dir, parts, folder)
    targets = [_target(destination, upload, max_bytes, overwrite) for upload in uploads]
    # One name to the filesystems that fold case or Unicode forms (macOS, Windows).
    keys = [unicodedata.normalize("NFC", upload.name).casefold() for upload in uploads]
    for upload, key in zip(uploads, keys, strict=True):
        if keys.count(key) > 1:
            raise BadFileName(f"The batch names {upload.name!r} more than once (ignoring case)")
    temporaries: list[Path] = []
    placed: list[tuple[Path, Path | None]] = []
    try:
        try:
            destination.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise BadFileName(f"Cannot make folder {folder!r}: {error.strerror}") from None
        for upload in uploads:
            # Hidden while partial (the corpus scan and the watcher ignore dot-names), and
            # unique, so uploads running at once never write into each other's file.
            # Ending in the file's own type, so that it is read as the build will read it.
            suffix = ".upload" + Path(upload.name).suffix
            try:
                handle, name = tempfile.mkstemp(dir=destination, prefix=".", suffix=suffix)
            except FileNotFoundError:
                # A delete of the folder's last file removed the folder since it was
                # made or found: make it again (and remove it too if the batch fails).
                # Once a temporary file is in it, a delete leaves it alone.
                again = _folders_to_make(corpus_dir, parts, folder)
                made = sorted({*made, *again}, key=lambda path: len(path.parts))
                destination.mkdir(parents=True, exist_ok=True)
                handle, name = tempfile.mkstemp(dir=destination, prefix=".", suffix=suffix)
            temporaries.append(Path(name))
            with os.fdopen(handle, "wb") as file:
                upload.content.seek(0)
                shutil.copyfileobj(upload.content, file)
            _check_readable(Path(name), upload.name)
        for temporary, target in zip(temporaries, targets, strict=True):
            placed.append((target, _place(temporary, target, overwrite)))
    except BaseException:
        for target, replaced in reversed(placed):
            if replaced is None:
                target.unlink(missing_ok=True)
            else:
                os.replace(replaced, target)
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
        for made_folder in reversed(made):
            try:
                made_folder.rmdir()  # only ever removes an empty folder
            except OSError:
                break  # another upload's file is in it now
        raise
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)
        for _, replaced in placed:
            if replaced is not None:
                replaced.unlink(missing_ok=True)
    return ["/".join([*parts, upload.name]) for upload in uploads]


def _check_readable(path: Path, name: str) -> None:
    """Raise UnreadableUpload unless the build could read the file: a file it would
    only skip (not UTF-8, no text, a broken PDF) is refused now, with the reason."""
    try:
        load_document(path, name)
    except UnreadableDocument as error:
        raise UnreadableUpload(f"{name!r} cannot be indexed: {error}") from None


def _place(temporary: Path, target: Path, overwrite: bool) -> Path | None:
    """Move a written file into place; returns a link to the file it replaced, if any."""
    if not overwrite:
        try:
            # Unlike a rename, a link fails when the name was taken since it was checked.
            os.link(temporary, target)
        except FileExistsError:
            raise FileExists(
                f"{target.name!r} is already in the corpus; pass ?overwrite=true to replace it"
            ) from None
        return None
    replaced = None
    if os.path.lexists(target):
        replaced = temporary.with_name(f"{temporary.name}.replaced")
        os.link(target, replaced, follow_symlinks=False)
    os.replace(temporary, target)
    return replaced


def remove_document(corpus_dir: Path, source: str) -> None:
    """Delete a document's file from the corpus; raises DocumentNotFound."""
    root = corpus_dir.resolve()
    path = corpus_dir / source
    inside = ".." not in Path(source).parts and not Path(source).is_absolute()
    if not inside or not path.parent.resolve().is_relative_to(root) or not path.is_file():
        raise DocumentNotFound(f"No file {source!r} in the corpus")
    # A link is removed itself, never what it points to.
    path.unlink()
    # Folders the deletion left empty go too: an empty folder is no document.
    folder = path.parent
    while folder.resolve() != root:
        try:
            folder.rmdir()  # only ever removes an empty folder
        except OSError:
            break
        folder = folder.parent


def _folder_parts(folder: str) -> list[str]:
    """The folder's names, checked as file names are ("" and "/" are the corpus root,
    "reports/" is "reports"); raises BadFileName for "..", a dot-name, a backslash or a
    leading "/" ("/etc" reads as a path outside the corpus, as `sources` refuses it)."""
    if folder.startswith("/") and folder.strip("/"):
        raise BadFileName(
            f"Bad folder {folder!r}: a folder is a path under the corpus, without a leading "
            f"'/': {folder.strip('/')!r}"
        )
    parts = folder.strip("/").split("/") if folder.strip("/") else []
    for part in parts:
        if not _is_plain(part):
            raise BadFileName(
                f"Bad folder {folder!r}: give a path under the corpus such as 'reports/2024', "
                "without '..', dot-names or backslashes"
            )
        _check_length(part, "Folder name")
    return parts


def _folders_to_make(corpus_dir: Path, parts: list[str], folder: str) -> list[Path]:
    """The folders of the path that do not exist yet, outermost first; raises BadFileName
    unless each that exists is a real folder: not a file, and not a link (the index names
    files by the path it walks, never through a link to a folder, so a source written
    through one would name no document)."""
    if len(os.fsencode("/".join(parts))) > _PATH_MAX:
        raise BadFileName(f"Folder {folder[:40]!r}... is too long: at most {_PATH_MAX} bytes")
    missing = []
    for depth in range(1, len(parts) + 1):
        path = corpus_dir.joinpath(*parts[:depth])
        shown = "/".join(parts[:depth])
        if path.is_symlink():
            raise BadFileName(f"Folder {shown!r} is a link in the corpus; upload to its target")
        if not os.path.lexists(path):
            missing.append(path)
        elif not path.is_dir():
            raise BadFileName(f"Folder {shown!r} is a file in the corpus")
    return missing


def _target(corpus_dir: Path, upload: Upload, max_bytes: int, overwrite: bool) -> Path:
    name = upload.name
    if not _is_plain(name) or any(mark in name for mark in ("/", "..")):
        raise BadFileName(f"Bad file name {name!r}: give a plain name, no folders or dot-names")
    _check_length(name, "File name")
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


def _is_plain(name: str) -> bool:
    """Whether a name may be an uploaded file's or folder's: not empty, not hidden (the
    corpus scan skips dot-names; "." and ".." are among them), no backslash or NUL."""
    return bool(name) and not name.startswith(".") and not any(m in name for m in ("\\", "\0"))


def _check_length(name: str, kind: str) -> None:
    """Raise BadFileName when the name is longer than a filesystem takes."""
    if len(os.fsencode(name)) > _NAME_MAX:
        raise BadFileName(f"{kind} {name!r} is too long: at most {_NAME_MAX} bytes")
