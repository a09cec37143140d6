"""Result files: a stream of Arrow record batches written as Parquet, CSV or JSON Lines.

A file is written under a temporary name beside the target and renamed over it only when
complete, so a failed or interrupted export never leaves a half-written file behind. Parquet
keeps the column types (times with their zone, lists) and is readable by DuckDB, pyarrow,
pandas and polars; CSV and JSON Lines hold the values as :mod:`newsmon.results` formats them
(times in ISO 8601, lists and structs as JSON).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from newsmon.errors import OutputError
from newsmon.results import write_csv, write_jsonl

log = logging.getLogger(__name__)

FORMATS = ("parquet", "csv", "jsonl")

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Written:
    """What an export wrote: rows, the file and its size in bytes."""

    rows: int
    path: Path
    size: int
    seconds: float


def write_batches(reader: pa.RecordBatchReader, fmt: str, path: Path, progress: Progress | None = None) -> Written:
    """Write every batch of ``reader`` to ``path`` in ``fmt`` (parquet, csv or jsonl), atomically;
    ``progress`` is called with the rows written so far after each batch."""
    if fmt not in FORMATS:
        raise OutputError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    if path.is_dir():
        raise OutputError(f"output {path} is a folder: give a file name, e.g. {path / ('export.' + fmt)}")
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    t0 = time.perf_counter()
    try:
        rows = _WRITERS[fmt](reader, tmp, progress)
        os.replace(tmp, path)
    except OSError as err:
        raise OutputError(f"cannot write {path} ({err.strerror or err}): check the folder and free disk space") from err
    finally:
        tmp.unlink(missing_ok=True)
        reader.close()
    return Written(rows, path, path.stat().st_size, time.perf_counter() - t0)


def _write_parquet(reader: pa.RecordBatchReader, tmp: Path, progress: Progress | None) -> int:
    rows = 0
    with pq.ParquetWriter(tmp, reader.schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch)
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
