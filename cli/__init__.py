"""The ``newsmon`` command line: the composition root, the one place that wires the domain
(:mod:`newsmon`) to the Prefect flows (:mod:`flows`) and the DuckDB storage (:mod:`storage`).

Each module holds a group of commands and registers them on :data:`app` when imported:
:mod:`cli.run` (run, serve), :mod:`cli.query` (sql, runs, alerts), :mod:`cli.export`, :mod:`cli.feeds`,
:mod:`cli.topics`, :mod:`cli.review` (topics review, judge, score) and :mod:`cli.dashboard` (the
web app of :mod:`web`). Heavy imports (Prefect, the web app) happen only inside the commands
that need them, so ``newsmon sql`` and ``--help`` start fast.
"""

from __future__ import annotations

from importlib import import_module

from cli.app import app, keep_all_examples, main

__all__ = ["app", "main"]

for _module in (
    "run",
    "query",
    "export",
    "feeds",
    "topics",
    "review",
    "dashboard",
):  # the order of the commands in --help
    import_module(f"cli.{_module}")
keep_all_examples(app)
