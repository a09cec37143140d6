"""What a reader may ask for by name: the public views (``v_*``, with the one-line description at
the top of their ``storage/views/*.sql`` comment) and the tables, their columns, and the export
query of one of them with its filters.

Names given on the command line are looked up in the database's catalog and only the catalog's
own spelling is put into SQL (quoted); filter values are bound parameters. Reading the view
files needs no DuckDB, so ``newsmon sql --help`` starts without importing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsmon.errors import QueryError

if TYPE_CHECKING:
    import duckdb

_CREATE_VIEW = re.compile(r"^CREATE\s+OR\s+REPLACE\s+VIEW\s+(\w+)", re.IGNORECASE | re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")

# The column a view or table is filtered on by --since/--until: the first of these it has.
TIME_COLUMNS = ("day", "first_seen_at", "tagged_at", "created_at", "started_at", "failed_at")
TOPIC_COLUMN = "topic"


@dataclass(frozen=True, slots=True)
class ViewInfo:
    """A public view: its name, the first sentence of its comment and the file defining it."""

    name: str
    description: str
    file: str


def public_views() -> list[ViewInfo]:
    """Every public view (``v_*``) that ``storage/views`` defines, in the files' order, each with
    the first sentence of the comment just above its ``CREATE`` (empty when there is none)."""
    folder = resources.files("storage") / "views"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    out: list[ViewInfo] = []
    for file in files:
        text = file.read_text(encoding="utf-8")
        for match in _CREATE_VIEW.finditer(text):
            if match.group(1).startswith("v_"):
                out.append(ViewInfo(match.group(1), _comment_above(text, match.start()), file.name))
    return out


def _comment_above(text: str, offset: int) -> str:
    """The first sentence of the ``--`` comment lines right above ``offset``."""
    lines = text[:offset].splitlines()
    block: list[str] = []
    while lines and lines[-1].startswith("--"):
        block.insert(0, lines.pop()[2:].strip())
    comment = " ".join(" ".join(block).split())
    return _SENTENCE_END.split(comment, maxsplit=1)[0] if comment else ""


@dataclass(frozen=True, slots=True)
class CatalogObject:
    """A view or table a reader may export: its name, kind and columns (name, type)."""

    name: str
    kind: str  # "view" or "table"
    columns: tuple[tuple[str, str], ...]

    @property
    def column_names(self) -> list[str]:
        """The column names, in order."""
        return [c for c, _t in self.columns]

    @property
    def time_column(self) -> str | None:
        """The column ``--since``/``--until`` filter on (see :data:`TIME_COLUMNS`), if any."""
        names = set(self.column_names)
        return next((c for c in TIME_COLUMNS if c in names), None)

    @property
    def has_topic(self) -> bool:
        """True if ``--topic`` can filter it."""
        return TOPIC_COLUMN in self.column_names


def exportable(con: duckdb.DuckDBPyConnection) -> dict[str, CatalogObject]:
    """The public views (``v_*``) and the tables of the database, by name, with their columns."""
    rows = con.execute(
        "SELECT t.table_name, t.table_type, c.column_name, c.data_type"
        " FROM information_schema.tables t"
        " JOIN information_schema.columns c"
        "  ON c.table_catalog = t.table_catalog AND c.table_schema = t.table_schema AND c.table_name = t.table_name"
        " WHERE t.table_catalog = current_database() AND t.table_schema = 'main'"
        " AND (t.table_type = 'BASE TABLE' OR (t.table_type = 'VIEW' AND t.table_name LIKE 'v\\_%' ESCAPE '\\'))"
        " ORDER BY t.table_name, c.ordinal_position"
    ).fetchall()
    columns: dict[str, list[tuple[str, str]]] = {}
    kinds: dict[str, str] = {}
    for name, kind, column, data_type in rows:
        columns.setdefault(name, []).append((column, data_type))
        kinds[name] = "view" if kind == "VIEW" else "table"
    return {name: CatalogObject(name, kinds[name], tuple(cols)) for name, cols in columns.items()}


def quote_identifier(name: str) -> str:
    """An identifier in double quotes (inner quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """What to keep: a topic, and a time range (``since`` inclusive; ``until`` inclusive, a whole
    day when given as a date)."""

    topic: str | None = None
    since: datetime | date | None = None
    until: datetime | date | None = None


def lookup(objects: dict[str, CatalogObject], name: str) -> CatalogObject:
    """The catalog object called ``name``, or a one-line error naming the public views."""
    found = objects.get(name) or next((o for n, o in objects.items() if n.lower() == name.lower()), None)
    if found is None:
        views = ", ".join(sorted(n for n, o in objects.items() if o.kind == "view"))
        raise QueryError(f"no public view or table {name!r} in the database: use one of {views} (or a table)")
    return found


def export_statement(
    obj: CatalogObject, filters: ExportFilter, objects: dict[str, CatalogObject] | None = None
) -> tuple[str, list[Any]]:
    """``SELECT *`` of a catalog object with the filters that apply, in :func:`export_order`, and
    the values to bind.

    A filter the object has no column for is refused with a one-line error that says which of
    the public views in ``objects`` take it.
    """
    where: list[str] = []
    params: list[Any] = []
    if filters.topic is not None:
        if not obj.has_topic:
            raise QueryError(f"{obj.name} has no topic column, so --topic cannot filter it{_which(objects, 'topic')}")
        where.append(f"{quote_identifier(TOPIC_COLUMN)} = ?")
        params.append(filters.topic)
    if filters.since is not None or filters.until is not None:
        column = obj.time_column
        if column is None:
            raise QueryError(
                f"{obj.name} has no time column ({', '.join(TIME_COLUMNS)}), so --since/--until cannot filter it"
                f"{_which(objects, 'time')}"
            )
        is_day = dict(obj.columns)[column].upper() == "DATE"
        if filters.since is not None:
            where.append(f"{quote_identifier(column)} >= ?")
            params.append(_bound(filters.since, is_day, end=False))
        if filters.until is not None:
            until = _bound(filters.until, is_day, end=True)
            inclusive = is_day or isinstance(filters.until, datetime)
            where.append(f"{quote_identifier(column)} {'<=' if inclusive else '<'} ?")
            params.append(until)
    sql = f"SELECT * FROM {quote_identifier(obj.name)}"  # noqa: S608 - the name is the catalog's own
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY " + ", ".join(quote_identifier(c) for c in export_order(obj)), params


def export_order(obj: CatalogObject) -> list[str]:
    """The columns an export is sorted by: its time column first (oldest first), then every
    other column in turn, so the same rows are always written in the same order."""
    first = obj.time_column
    return ([first] if first else []) + [c for c in obj.column_names if c != first]


def _bound(value: datetime | date, is_day: bool, end: bool) -> date | datetime:
    """A filter bound for a DATE column (a date) or a time column (a time; a date-only ``until``
    becomes the start of the next day, compared with ``<``)."""
    if is_day:
        return value.date() if isinstance(value, datetime) else value
    if isinstance(value, datetime):
        return value
    start = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def _which(objects: dict[str, CatalogObject] | None, kind: str) -> str:
    """``: use one of …`` naming the public views that take a filter (empty without a catalog)."""
    if not objects:
        return ""
    views = sorted(
        o.name
        for o in objects.values()
        if o.kind == "view" and (o.has_topic if kind == "topic" else o.time_column is not None)
    )
    return f": use one of {', '.join(views)}" if views else ""


def schema_catalog(path: Path | None, live: bool = False) -> dict[str, CatalogObject]:
    """The exportable objects of the database at ``path`` (its snapshot unless ``live``), or,
    when there is no database there (or no path), of an empty database at the current schema."""
    import duckdb

    from storage.database import Database, open_reader

    if path is not None and path.exists():
        con = open_reader(path, live=live)
    else:
        con = duckdb.connect(":memory:")
        Database(con, Path(":memory:")).migrate()
    try:
        return exportable(con)
    finally:
        con.close()
