"""The dashboard: a local web app (Starlette, Jinja2, Vega-Lite charts) over the published read
snapshot of the database. Like :mod:`cli`, a composition root: it reads through
:mod:`storage.dashboard` and the domain's plain functions, and never writes.

Modules: :mod:`web.reader` (the snapshot connection, reopened when a run publishes a new one),
:mod:`web.queries` (the data of each page, from the filters), :mod:`web.charts` (Vega-Lite
specifications), :mod:`web.app` (routes, templates, headers).
"""
