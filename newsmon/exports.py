"""Result files: a stream of Arrow record batches written as Parquet, CSV or JSON Lines.

A file is written under a temporary name beside the target and renamed over it only when
complete, so a failed or interrupted export never leaves a half-written file behind. A link
is written through (its target is replaced, the link kept); a pipe or a device such as
``/dev/stdout`` is written to directly, never replaced by a file. Parquet
keeps the column types (times with their zone, lists) and is readable by DuckDB, pyarrow,
pandas and polars; CSV and JSON Lines hold the values as :mod:`newsmon.results` formats them
(times in ISO 8601, lists and structs as JSON).
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from newsmon.errors import OutputError
from newsmon.results import unique_names, write_csv, write_jsonl

log = logging.getLogger(__name__)

FORMATS = ("parquet", "csv", "jsonl")

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Written:
    """What an export wrote: rows, the file and its size in bytes."""

    rows: int
    path: Path
    size: int | None  # None for a pipe or a device
    seconds: float


T = TypeVar("T")


def is_stdout(path: Path) -> bool:
    """Whether ``path`` is ``-``: standard output, as the commands' ``--output -`` means."""
    return str(path) == "-"


def standard_sink(path: Path) -> BinaryIO | None:
    """Standard output's (or error's) byte stream when ``path`` is ``-`` or names the file it is
    open to (``/dev/stdout``, ``/proc/self/fd/1``, the file it was redirected to), else None:
    such an output is written to as it is open, never reopened, truncated or replaced."""
    if is_stdout(path):
        return sys.stdout.buffer
    for stream in (sys.stdout, sys.stderr):
        try:
            if os.path.samestat(path.stat(), os.fstat(stream.fileno())):
                return stream.buffer
        except (OSError, ValueError, AttributeError):  # no such file; a stream without a descriptor
            continue
    return None


def is_stream(path: Path) -> bool:
    """Whether ``path`` (links followed) is a pipe, a socket or a device, such as ``/dev/stdout``:
    written to directly, never replaced by a file."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def write_output(path: Path, write: Callable[[Path], T]) -> tuple[T, int | None]:
    """Call ``write`` with the file to fill for ``path``; what it returns, and the size of the
    file written in bytes (None for stdout, a pipe or a device).

    A regular file (new or existing) is filled under a temporary name beside it and renamed
    over it when complete, keeping an existing file's permissions; a link is followed, so its
    target is replaced and the link kept; a pipe or a device is written to directly. Raises
    :class:`OutputError` (one line) for a folder, a missing parent folder or a failed write.
    """
    sink = standard_sink(path)
    if sink is not None:  # stdout, whatever it is (a pipe, a terminal, a file opened to append)
        return _write_stream(write, sink, "stdout" if is_stdout(path) else str(path)), None
    if path.is_dir():
        raise OutputError(f"output {path} is a folder: give a file name")
    if is_stream(path):  # through its links: /dev/stdout is a link to /proc/self/fd/1
        try:
            return write(path), None
        except OSError as err:
            raise OutputError(f"cannot write {path} ({err.strerror or err}): check the output") from err
    target = path.resolve() if path.is_symlink() else path
    if not target.parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {target.parent} does not exist")
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        result = write(tmp)
        size = tmp.stat().st_size
        _keep_mode(target, tmp)
        os.replace(tmp, target)
    except OSError as err:
        raise OutputError(f"cannot write {path} ({err.strerror or err}): check the folder and free disk space") from err
    finally:
        tmp.unlink(missing_ok=True)
    return result, size


def _keep_mode(target: Path, tmp: Path) -> None:
    """Give ``tmp`` the permissions of the file it replaces, if there is one: a private file
    (0600) written again stays private."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return
    os.chmod(tmp, mode)


def _write_stream(write: Callable[[Path], T], sink: BinaryIO, name: str) -> T:
    """Write to stdout (or stderr) as it is open: never reopened by name, so a file it was
    redirected to (``>>``) is appended to, not replaced."""
    try:
        result = write_staged(write, sink)
        sink.flush()
    except BrokenPipeError:
        raise  # the reader went away (`| head`): not an error to report
    except OSError as err:
        raise OutputError(f"cannot write to {name} ({err.strerror or err}): check where it goes") from err
    return result


# What goes to a pipe goes in pieces of this size: one large write cut short by a reader that
# stops (`| head`) can end without an error, and the command would claim success.
PIPE_PIECE = 1 << 16


def write_staged(write: Callable[[Path], T], sink: BinaryIO) -> T:
    """Call ``write`` on a temporary file, then copy the file to ``sink``: for an output that
    cannot be reopened by name or seeked in (stdout, a pipe)."""
    with tempfile.TemporaryDirectory(prefix="newsmon-output-") as folder:
        staged = Path(folder) / "output"
        result = write(staged)
        with staged.open("rb") as source:
            shutil.copyfileobj(source, sink, PIPE_PIECE)
    return result


def write_batches(reader: pa.RecordBatchReader, fmt: str, path: Path, progress: Progress | None = None) -> Written:
    """Write every batch of ``reader`` to ``path`` in ``fmt`` (parquet, csv or jsonl), atomically
    (see :func:`write_output`); ``progress`` is called with the rows written so far after each batch."""
    if fmt not in FORMATS:
        raise OutputError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    if not is_stdout(path) and path.is_dir():
        raise OutputError(f"output {path} is a folder: give a file name, e.g. {path / ('export.' + fmt)}")
    t0 = time.perf_counter()
    try:
        rows, size = write_output(path, lambda file: _WRITERS[fmt](reader, file, progress))
    finally:
        reader.close()
    return Written(rows, path, size, time.perf_counter() - t0)


def _write_parquet(reader: pa.RecordBatchReader, tmp: Path, progress: Progress | None) -> int:
    if is_stream(tmp):  # Parquet's writer seeks, which a pipe cannot
        with tmp.open("wb") as sink:
            return write_staged(lambda staged: _write_parquet(reader, staged, progress), sink)
    rows = 0
    names = unique_names(reader.schema.names)  # pyarrow cannot read a file with two columns of one name
    schema = pa.schema([field.with_name(name) for field, name in zip(reader.schema, names, strict=True)])
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=schema))
            rows += batch.num_rows
            if progress is not None:
                progress(rows)
    return rows


def _batch_rows(batch: pa.RecordBatch) -> list[tuple[object, ...]]:
    return list(zip(*(column.to_pylist() for column in batch.columns), strict=True))


def _write_csv(reader: pa.RecordBatchReader, tmp: Path, progress: Progress | None) -> int:
    rows = 0
    columns = reader.schema.names
    with tmp.open("w", encoding="utf-8", newline="") as out:
        write_csv(columns, [], out)  # the header, also for an empty result
        for batch in reader:
            rows += write_csv(columns, _batch_rows(batch), out, header=False)
            if progress is not None:
                progress(rows)
    return rows


def _write_jsonl(reader: pa.RecordBatchReader, tmp: Path, progress: Progress | None) -> int:
    rows = 0
    columns = reader.schema.names
    with tmp.open("w", encoding="utf-8") as out:
        for batch in reader:
            rows += write_jsonl(columns, _batch_rows(batch), out)
            if progress is not None:
                progress(rows)
    return rows


_WRITERS: dict[str, Callable[[pa.RecordBatchReader, Path, Progress | None], int]] = {
    "parquet": _write_parquet,
    "csv": _write_csv,
    "jsonl": _write_jsonl,
}
