"""Query results for people and for files: cells cut to fit a terminal, tables or one record per
row, Markdown, CSV, JSON and JSON Lines.

Plain Python: the rows come from the storage layer as tuples of Python values. For reading
(``table``, ``markdown``) every cell is one line, long text is cut with an ellipsis, and a
table that cannot fit the width with readable columns is shown as one record per row (column
name, then value), the way ``psql``'s expanded display does. The data formats (``csv``,
``json``, ``jsonl``) keep every value whole.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TextIO
from uuid import UUID

log = logging.getLogger(__name__)

ELLIPSIS = "…"
SEPARATOR = " │ "
MIN_COLUMN = 6  # narrowest a squeezed column gets (a header or value cut shorter is unreadable)
DEFAULT_MAX_WIDTH = 60  # widest a cell is shown by default


@dataclass(frozen=True, slots=True)
class Result:
    """One statement's answer: its text, column names and rows (``returns_rows`` is false for a
    statement that answers nothing, such as ``SET``)."""

    statement: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    returns_rows: bool = True


# --- values ---------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """A value as JSON can hold it: times as ISO 8601, intervals as seconds, decimals as floats,
    bytes as hex, lists and structs element by element; anything else unknown as its text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN and infinities are not JSON: null, as pandas and DuckDB's JSON write them
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):  # a whole number (a HUGEINT sum, DECIMAL(38,0)) stays one
        return int(value) if value.is_finite() and value.as_tuple().exponent == 0 else float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, UUID):
        return str(value)
    return str(value)


def display_text(value: Any) -> str:
    """A value as one line of text for a table cell: whitespace runs (newlines too) become one
    space, numbers in full, lists and structs as JSON, NULL as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, float):  # the shortest text that reads back as the same number, never rounded
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, list | tuple | dict | set):
        return " ".join(json.dumps(jsonable(value), ensure_ascii=False).split())
    return " ".join(str(jsonable(value)).split())


def char_width(char: str) -> int:
    """Terminal cells a character takes: 2 for wide East Asian characters, 0 for combining marks
    and control characters, else 1."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Cc", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def text_width(text: str) -> int:
    """Terminal cells a line of text takes."""
    return sum(char_width(c) for c in text) if not text.isascii() else len(text)


def cut(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` terminal cells, ending in an ellipsis when it was cut."""
    if width <= 0:
        return ""
    if text_width(text) <= width:
        return text
    out, used = [], 0
    for char in text:
        w = char_width(char)
        if used + w > width - 1:
            break
        out.append(char)
        used += w
    return "".join(out).rstrip() + ELLIPSIS


def pad(text: str, width: int, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` cells (on the left when ``right``)."""
    gap = " " * max(0, width - text_width(text))
    return gap + text if right else text + gap


# --- layout -----------------------------------------------------------------------------------


def fit_widths(natural: Sequence[int], available: int, minimum: int = MIN_COLUMN) -> list[int] | None:
    """Column widths that fit ``available`` cells: every column its natural width up to a common
    cap, the cap as high as the space allows (so the widest columns are narrowed first), none
    below ``minimum`` (or its natural width when that is less). None when even that does not fit."""
    floors = [min(n, minimum) for n in natural]
    if sum(floors) > available:
        return None

    def at(cap: int) -> list[int]:
        return [max(f, min(n, cap)) for n, f in zip(natural, floors, strict=True)]

    low, high = 0, max(natural, default=0)
    while low < high:  # the highest cap whose widths fit
        mid = (low + high + 1) // 2
        if sum(at(mid)) <= available:
            low = mid
        else:
            high = mid - 1
    widths = at(low)
    spare = available - sum(widths)
    for i, n in enumerate(natural):  # what the cap left over goes to the columns it narrowed
        if spare <= 0:
            break
        if widths[i] < n:
            widths[i] += 1
            spare -= 1
    return widths


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def render_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int, max_cell: int | None = DEFAULT_MAX_WIDTH
) -> list[str]:
    """Lines showing a result within ``width`` cells: a table with columns sized to their content
    (cells cut at ``max_cell``; None: no limit but the width), else one record per row."""
    cap = max_cell if max_cell and max_cell > 0 else None
    texts = [[display_text(v) for v in row] for row in rows]
    natural = [
        min(max([text_width(c)] + [text_width(r[i]) for r in texts]), cap or 1 << 30) for i, c in enumerate(columns)
    ]
    natural = [max(1, n) for n in natural]
    widths = fit_widths(natural, width - len(SEPARATOR) * (len(columns) - 1))
    if widths is None:
        return render_records(columns, rows, width, cap)
    numeric = [bool(rows) and all(_is_number(r[i]) or r[i] is None for r in rows) for i in range(len(columns))]
    lines = [
        SEPARATOR.join(pad(cut(c, w), w) for c, w in zip(columns, widths, strict=True)).rstrip(),
        "─┼─".join("─" * w for w in widths),
    ]
    for row in texts:
        cells = [pad(cut(t, w), w, right=numeric[i]) for i, (t, w) in enumerate(zip(row, widths, strict=True))]
        lines.append(SEPARATOR.join(cells).rstrip())
    return lines


def render_records(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int, max_cell: int | None = DEFAULT_MAX_WIDTH
) -> list[str]:
    """One record per row (``-[ row n ]-`` then a line per column: name, value), within ``width``."""
    name_w = min(max([text_width(c) for c in columns] + [1]), max(8, width // 3))
    value_w = max(1, width - name_w - len(SEPARATOR))
    if max_cell and max_cell > 0:
        value_w = min(value_w, max_cell)
    lines: list[str] = []
    for n, row in enumerate(rows, 1):
        lines.append((f"-[ row {n} ]" + "-" * width)[:width])
        for column, value in zip(columns, row, strict=True):
            lines.append(f"{pad(cut(column, name_w), name_w)}{SEPARATOR}{cut(display_text(value), value_w)}".rstrip())
    return lines


def render_markdown(columns: Sequence[str], rows: Sequence[Sequence[Any]], max_cell: int | None = None) -> list[str]:
    """A Markdown (GitHub) table; pipes escaped, each cell one line, cut at ``max_cell`` when given."""

    def cell(value: Any) -> str:
        text = display_text(value)
        if max_cell and max_cell > 0:
            text = cut(text, max_cell)
        return text.replace("\\", "\\\\").replace("|", "\\|")

    numeric = [bool(rows) and all(_is_number(r[i]) or r[i] is None for r in rows) for i in range(len(columns))]
    lines = [
        "| " + " | ".join(cell(c) for c in columns) + " |",
        "|" + "|".join("---:" if numeric[i] else "---" for i in range(len(columns))) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


# --- data formats -----------------------------------------------------------------------------


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: str) -> str:
    """Text as a cell a spreadsheet shows as text, never runs: a leading = + - @ (or tab, carriage
    return) gets a quote."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _csv_value(value: Any) -> Any:
    if isinstance(value, str):  # text (feed text among it) never becomes a formula; numbers stay numbers
        return escape_cell(value)
    converted = jsonable(value)
    if isinstance(converted, list | dict):
        return json.dumps(converted, ensure_ascii=False)
    return converted


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO, header: bool = True) -> int:
    """Rows as CSV (lists and structs as JSON text; text that would start a spreadsheet formula
    with a leading ``'``: :func:`escape_cell`); the number of rows written."""
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(columns)
    n = 0
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
        n += 1
    return n


def unique_names(columns: Sequence[str]) -> list[str]:
    """Column names made unique for JSON keys, as DuckDB does for Parquet: a second ``a`` is
    ``a_1``, a third ``a_2`` (a join's two ``first_seen_at`` are both kept, not one lost)."""
    taken = set(columns)
    seen: set[str] = set()
    names: list[str] = []
    for name in columns:
        if name not in seen:
            seen.add(name)
            names.append(name)
            continue
        n = 1
        while f"{name}_{n}" in taken:
            n += 1
        renamed = f"{name}_{n}"
        taken.add(renamed)
        seen.add(renamed)
        names.append(renamed)
    return names


def write_jsonl(columns: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO) -> int:
    """Rows as JSON Lines, one object per row (keys: :func:`unique_names`); the number of rows written."""
    columns = unique_names(columns)
    n = 0
    for row in rows:
        record = {c: jsonable(v) for c, v in zip(columns, row, strict=True)}
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        n += 1
    return n


def json_records(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows as JSON-ready objects keyed by column name (made unique: :func:`unique_names`)."""
    columns = unique_names(columns)
    return [{c: jsonable(v) for c, v in zip(columns, row, strict=True)} for row in rows]


def one_line(statement: str, width: int) -> str:
    """A statement as one line (comments kept, whitespace collapsed, final ``;`` dropped), cut to ``width``."""
    text = " ".join(statement.split()).rstrip("; ")
    return cut(text, width)


def human_size(n_bytes: int) -> str:
    """A file size for people: ``512 B``, ``3.4 KB``, ``1.2 MB``."""
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover
