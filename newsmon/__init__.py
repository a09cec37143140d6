"""newsmon: ingest news, dedupe reprints, tag topics, store in DuckDB, alert per topic."""

__version__ = "0.1.0"
