"""Everything DuckDB: migrations (schema/), views (views/) and the store."""
