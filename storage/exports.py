"""Ad hoc SQL and exports on a reader's connection: a script split into its statements, each run
in turn, and a result streamed as Arrow record batches for a file writer.

The connection is the sandboxed reader of :func:`storage.database.open_reader` (read-only, no
file or network access), so a statement can neither write nor reach a file; files are written
by the caller from the batches, never by DuckDB.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from newsmon.errors import QueryError
from storage.catalog import quote_identifier

BATCH_ROWS = 50_000


def _failed(err: duckdb.Error, where: str = "query") -> QueryError:
    first = str(err).splitlines()[0] if str(err) else type(err).__name__
    return QueryError(f"{where} failed: {first}: fix the SQL (views: `newsmon sql --views`)")


def split_statements(con: duckdb.DuckDBPyConnection, text: str) -> list[Any]:
    """The statements of a script (``duckdb.Statement`` objects), or a one-line error when it
    does not parse or holds no statement at all."""
    try:
        statements = list(con.extract_statements(text))
    except duckdb.Error as err:
        raise _failed(err) from err
    if not statements:
        raise QueryError(
            'empty query: give one or more SQL statements, e.g. newsmon sql "select * from v_stories limit 5"'
        )
    return statements


def statement_text(statement: Any) -> str:
    """The SQL text of a statement of :func:`split_statements`."""
    return str(statement.query)


def run_statement(
    con: duckdb.DuckDBPyConnection, statement: Any, where: str = "query"
) -> tuple[list[str], list[tuple[Any, ...]], bool]:
    """Run one statement of :func:`split_statements`: its column names, rows, and whether it
    answers with rows at all (``SET`` does not)."""
    returns_rows = duckdb.ExpectedResultType.QUERY_RESULT in statement.expected_result_type
    try:
        result = con.execute(statement)
        columns = [d[0] for d in result.description or []]
        rows = result.fetchall()
    except duckdb.Error as err:
        raise _failed(err, where) from err
    return columns, rows, returns_rows


def arrow_reader(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None, batch_rows: int = BATCH_ROWS
) -> pa.RecordBatchReader:
    """One query's result as a stream of Arrow record batches, intervals as seconds (Parquet has
    no type for DuckDB's intervals; the JSON formats show them as seconds too).

    The connection runs nothing else until the reader is read to its end or closed.
    """
    try:
        relation = con.sql(sql, params=list(params)) if params else con.sql(sql)
        if relation is None:
            raise QueryError("the statement returns no rows: export a SELECT (or a view)")
        if any(str(t) == "INTERVAL" for t in relation.types):  # by position: two columns may share a name
            exprs = [
                f"{f'epoch(#{n})' if str(t) == 'INTERVAL' else f'#{n}'} AS {quote_identifier(c)}"
                for n, (c, t) in enumerate(zip(relation.columns, relation.types, strict=True), 1)
            ]
            relation = relation.project(", ".join(exprs))
        return relation.to_arrow_reader(batch_rows)
    except duckdb.Error as err:
        raise _failed(err) from err
