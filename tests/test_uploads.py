"""Writing uploads into the corpus: unique temp names, no overwrite races, all or nothing."""

import io
import os
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service.errors import BadFileName, FileExists, UnreadableUpload
from service.uploads import Upload, remove_document, save_uploads


class _Racing(io.BytesIO):
    """File content that runs `meanwhile` on its first read: another writer mid-upload."""

    def __init__(self, content: bytes, meanwhile: Callable[[], object]) -> None:
        super().__init__(content)
        self._meanwhile: Callable[[], object] | None = meanwhile

    def read(self, size: int | None = -1) -> bytes:
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            meanwhile()
        return super().read(size)


def _upload(name: str, content: bytes | io.BytesIO) -> Upload:
    stream = content if isinstance(content, io.BytesIO) else io.BytesIO(content)
    return Upload(name, len(stream.getvalue()), stream)


def _files(corpus: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(corpus.iterdir())}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "kept.txt").write_bytes(b"kept")
    return folder


def test_two_uploads_of_one_name_at_once_never_mix(corpus: Path) -> None:
    def other() -> None:
        save_uploads(corpus, [_upload("new.txt", b"other")], 100, overwrite=True)

    save_uploads(corpus, [_upload("new.txt", _Racing(b"mine", other))], 100, overwrite=True)
    assert _files(corpus) == {"kept.txt": b"kept", "new.txt": b"mine"}


def test_a_name_taken_while_uploading_is_refused_and_the_batch_undone(corpus: Path) -> None:
    def other() -> None:
        (corpus / "b.txt").write_bytes(b"other")

    batch = [_upload("a.txt", b"a"), _upload("b.txt", _Racing(b"b", other))]
    with pytest.raises(FileExists, match=r"'b\.txt' is already in the corpus"):
        save_uploads(corpus, batch, 100)
    assert _files(corpus) == {"b.txt": b"other", "kept.txt": b"kept"}


def test_an_overwriting_batch_that_fails_restores_what_it_replaced(corpus: Path) -> None:
    def other() -> None:
        (corpus / "new.txt").mkdir()  # moving the second file into place fails

    batch = [_upload("kept.txt", b"replaced"), _upload("new.txt", _Racing(b"n", other))]
    with pytest.raises(OSError):
        save_uploads(corpus, batch, 100, overwrite=True)
    assert sorted(os.listdir(corpus)) == ["kept.txt", "new.txt"]
    assert (corpus / "kept.txt").read_bytes() == b"kept"


@pytest.mark.parametrize(
    "names",
    [
        ["Notes.txt", "notes.TXT"],
        [unicodedata.normalize("NFC", "café.txt"), unicodedata.normalize("NFD", "café.txt")],
    ],
)
def test_names_equal_but_for_case_or_unicode_form_are_one_name(
    corpus: Path, names: list[str]
) -> None:
    with pytest.raises(BadFileName, match="more than once"):
        save_uploads(corpus, [_upload(name, b"x") for name in names], 100)
    assert _files(corpus) == {"kept.txt": b"kept"}


def test_deleting_a_folders_last_file_removes_the_folders_it_leaves_empty(corpus: Path) -> None:
    (corpus / "a" / "b").mkdir(parents=True)
    (corpus / "a" / "b" / "only.txt").write_bytes(b"x")
    (corpus / "a" / "other.txt").write_bytes(b"y")
    remove_document(corpus, "a/b/only.txt")
    assert sorted(str(p.relative_to(corpus)) for p in corpus.rglob("*")) == [
        "a",
        "a/other.txt",
        "kept.txt",
    ]
    remove_document(corpus, "a/other.txt")
    remove_document(corpus, "kept.txt")
    assert corpus.is_dir()
    assert list(corpus.iterdir()) == []


def test_uploads_go_into_a_folder_that_is_made_for_them_and_can_be_replaced_there(
    corpus: Path,
) -> None:
    sources = save_uploads(corpus, [_upload("plan.md", b"# Plan\n\nv1")], 1000, folder="reports/")
    assert sources == ["reports/plan.md"]
    assert (corpus / "reports" / "plan.md").read_bytes() == b"# Plan\n\nv1"
    with pytest.raises(FileExists):
        save_uploads(corpus, [_upload("plan.md", b"# Plan\n\nv2")], 1000, folder="reports")
    save_uploads(corpus, [_upload("plan.md", b"# Plan\n\nv2")], 1000, True, "reports")
    assert (corpus / "reports" / "plan.md").read_bytes() == b"# Plan\n\nv2"
    assert sorted(p.name for p in (corpus / "reports").iterdir()) == ["plan.md"]


def test_a_bad_folder_or_a_failed_batch_leaves_no_folder_behind(corpus: Path) -> None:
    (corpus / "reports").mkdir()
    (corpus / "alias").symlink_to(corpus / "reports")
    bad = (
        "../out",
        "a/../../out",
        ".hidden",
        "a\\b",
        "kept.txt",
        "kept.txt/sub",
        "alias/x",
        "/etc",
    )
    for folder in (*bad, "a/" * 600):
        with pytest.raises(BadFileName, match=r"[Ff]older"):
            save_uploads(corpus, [_upload("a.md", b"text")], 1000, folder=folder)
    # The second file cannot be read: the folders made for the batch go with it.
    with pytest.raises(UnreadableUpload):
        save_uploads(
            corpus, [_upload("a.md", b"text"), _upload("b.txt", b"\xff\xfe\x00")], 1000,
            folder="new/deeper",
        )  # fmt: skip
    assert sorted(p.name for p in corpus.iterdir()) == ["alias", "kept.txt", "reports"]
    assert list((corpus / "reports").iterdir()) == []


def test_an_upload_into_a_folder_a_delete_just_emptied_makes_it_again(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = tempfile.mkstemp

    def upload_racing_a_delete(batch: list[Upload]) -> list[str]:
        (corpus / "a" / "b").mkdir(parents=True)
        (corpus / "a" / "b" / "old.md").write_bytes(b"old")

        def delete_first(*args: Any, **kwargs: Any) -> tuple[int, str]:
            # The delete of the folder's last file lands between the upload's mkdir and
            # its first temporary file, and removes the folders it leaves empty.
            monkeypatch.setattr(tempfile, "mkstemp", made)
            remove_document(corpus, "a/b/old.md")
            return made(*args, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", delete_first)
        return save_uploads(corpus, batch, 100, folder="a/b")

    assert upload_racing_a_delete([_upload("new.md", b"new")]) == ["a/b/new.md"]
    assert sorted(p.name for p in (corpus / "a" / "b").iterdir()) == ["new.md"]
    remove_document(corpus, "a/b/new.md")
    # A batch that then fails removes the folders it made again.
    with pytest.raises(UnreadableUpload):
        upload_racing_a_delete([_upload("new.md", b"new"), _upload("bad.txt", b"\xff\xfe\x00")])
    assert sorted(p.name for p in corpus.iterdir()) == ["kept.txt"]
