"""Seed folders with every kind of bad file: each is skipped or read right; nothing good is lost."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import newsmon.documents as documents
from newsmon.documents import read_documents

pytestmark = pytest.mark.hostile("seed folder")
NOW = datetime(2023, 5, 1, tzinfo=UTC)
BODY = "Kazakhstan's foreign minister met his Uzbek counterpart in Tashkent to discuss the trade corridor."


def _good(folder: Path, n: int = 3) -> None:
    for i in range(n):
        (folder / f"good-{i}.txt").write_text(f"Good {i}\n\n{BODY} ({i})", encoding="utf-8")


def _check(folder: Path, lost_rows: object, expected_good: int = 3) -> list[str]:
    result = read_documents(folder, NOW)
    titles = [d.title for d in result.documents]
    good = [t for t in titles if t.startswith("Good ")]
    lost_rows(expected_good - len(good))  # type: ignore[operator]
    assert len(good) == expected_good
    return titles


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("latin-1", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16", b""), ("utf-16-le", b""), ("cp1252", b"")],
)
def test_legacy_encodings_read_right(tmp_path: Path, lost_rows: object, encoding: str, prefix: bytes) -> None:
    _good(tmp_path)
    text = "Genève et Zürich : la réunion des ministres à Genève a été très suivie.\n\nCorps du texte éditorial."
    (tmp_path / "legacy.txt").write_bytes(prefix + text.encode(encoding))
    titles = _check(tmp_path, lost_rows)
    assert "Genève et Zürich : la réunion des ministres à Genève a été très suivie." in titles


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("image.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4),
        ("empty.txt", b""),
        ("blank.md", b" \n\t\n  \n"),
        ("zeros.txt", bytes(4096)),
    ],
)
def test_binary_and_empty_files_are_skipped_with_a_reason(
    tmp_path: Path, lost_rows: object, name: str, data: bytes
) -> None:
    _good(tmp_path)
    (tmp_path / name).write_bytes(data)
    result = read_documents(tmp_path, NOW)
    assert [s.path.endswith(name) for s in result.skipped] == [True]
    assert result.skipped[0].reason
    _check(tmp_path, lost_rows)


def test_symlink_loop_and_dangling_links_are_survived(tmp_path: Path, lost_rows: object) -> None:
    _good(tmp_path)
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path, tmp_path / "sub" / "loop")  # a folder link back to the top
    os.symlink(tmp_path / "absent.txt", tmp_path / "dangling.txt")
    os.symlink(tmp_path / "self.txt", tmp_path / "self.txt")  # a link to itself
    _check(tmp_path, lost_rows)


def test_a_named_pipe_or_socket_among_the_documents_is_skipped_not_waited_on(tmp_path: Path, lost_rows: object) -> None:
    import socket

    _good(tmp_path)
    os.mkfifo(tmp_path / "pipe.txt")  # nothing ever writes to it: reading it would wait for ever
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tmp_path / "socket.md"))
        result = read_documents(tmp_path, NOW)
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert set(reasons) == {"pipe.txt", "socket.md"}
    assert all(r.startswith("not a regular file") or r.startswith("unreadable") for r in reasons.values())
    assert reasons["pipe.txt"].startswith("not a regular file")
    os.unlink(tmp_path / "socket.md")
    _check(tmp_path, lost_rows)


def test_file_that_vanishes_mid_run(tmp_path: Path, lost_rows: object, monkeypatch: pytest.MonkeyPatch) -> None:
    _good(tmp_path)
    (tmp_path / "vanishing.txt").write_text("Gone\n\nThis file is deleted after listing.", encoding="utf-8")
    real = documents.iter_folder_files

    def listing_then_delete(folder: Path, exclude: Collection[Path] = ()) -> Iterator[Path]:
        for path in real(folder, exclude):
            if path.name == "vanishing.txt":
                path.unlink()
            yield path

    monkeypatch.setattr(documents, "iter_folder_files", listing_then_delete)
    result = read_documents(tmp_path, NOW)
    assert [Path(s.path).name for s in result.skipped] == ["vanishing.txt"]
    assert "unreadable" in result.skipped[0].reason
    _check(tmp_path, lost_rows)


def test_unreadable_file(tmp_path: Path, lost_rows: object, monkeypatch: pytest.MonkeyPatch) -> None:
    _good(tmp_path)
    locked = tmp_path / "locked.txt"
    locked.write_text("Locked\n\nbody", encoding="utf-8")
    real = os.open

    def open_file(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        if Path(path).name == "locked.txt":
            raise PermissionError(13, "Permission denied")
        return real(path, flags, *args)

    monkeypatch.setattr(documents.os, "open", open_file)  # as for a file of another user
    result = read_documents(tmp_path, NOW)
    assert [Path(s.path).name for s in result.skipped] == ["locked.txt"]
    assert "Permission denied" in result.skipped[0].reason
    _check(tmp_path, lost_rows)
