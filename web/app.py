"""The dashboard's Starlette app: routes, templates (Jinja2, autoescaped), security headers.

Routes (stable: digests link to ``/stories/{story_id}``): ``/`` overview, ``/topics/{slug}``,
``/stories/{story_id}``, ``/alerts``, ``/feeds``, and ``/static/…``. Filters are query
parameters (``topic``, ``since``, ``until``, ``source``). Every value from a feed is rendered
as text; chart data travels as JSON in ``<script type="application/json">`` blocks; the
Content-Security-Policy allows scripts and styles from the app itself only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsmon.alerts import safe_url
from newsmon.errors import NewsmonError
from newsmon.models import SpikeParams
from web import queries
from web.queries import FilterError, Filters, NotFoundError
from web.reader import SnapshotReader

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self';"
    " connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """ASGI middleware: the Content-Security-Policy and related headers on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def when(value: Any) -> str:
    """A time as ``2023-05-19 22:00 UTC`` (empty when there is none)."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if isinstance(value, datetime) else ""


def lag(value: Any) -> str:
    """A delay after the canonical as ``+2 h 05 min``, ``+1 d 3 h`` or ``-20 min`` (an earlier date)."""
    if not isinstance(value, timedelta):
        return ""
    seconds = int(value.total_seconds())
    sign, seconds = ("-" if seconds < 0 else "+"), abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{sign}{days} d {hours} h"
    if hours:
        return f"{sign}{hours} h {minutes:02d} min"
    return f"{sign}{minutes} min"


def percent(value: Any) -> str:
    """A share in [0, 1] as ``87 %`` (empty when there is none)."""
    return f"{round(float(value) * 100)} %" if isinstance(value, int | float) else ""


def web_href(value: Any) -> str | None:
    """An ``http(s)`` URL safe to link to, else None (``file:`` and ``javascript:`` URLs are shown as text)."""
    url = safe_url(str(value or ""))
    return url if url and url.lower().startswith(("http://", "https://")) else None


def segment(value: Any) -> str:
    """A value as one URL path segment (every reserved character escaped)."""
    return quote(str(value), safe="")


def estimate(value: Any) -> str:
    """A review's estimate (``newsmon.review.Estimate``) with its 95 % interval, or "n/a"."""
    if getattr(value, "value", None) is None:
        return "n/a"
    return f"{value.value:.2f} [{value.low:.2f}–{value.high:.2f}]"


def build_env() -> jinja2.Environment:
    """The templates' environment: autoescape on for every template, strict undefined values."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, lag=lag, percent=percent, web_href=web_href, segment=segment, estimate=estimate)
    env.globals["backlog_days"] = f"{SpikeParams().backlog_days:g}"  # what the trend leaves out as backlog
    return env


def create_app(db_path: Path, reader: SnapshotReader | None = None) -> Starlette:
    """The dashboard over the snapshot of ``db_path`` (checked to exist now: a missing one is a
    :class:`~newsmon.errors.DatabaseMissingError`)."""
    reader = reader or SnapshotReader(db_path)
    reader.check()
    templates = Jinja2Templates(env=build_env())

    def render(request: Request, template: str, build: Callable[..., dict[str, Any]], *args: Any) -> Response:
        with reader.connection() as con:
            context = build(con, *args)
        context["path"] = request.url.path
        return templates.TemplateResponse(request, template, context)

    def overview(request: Request) -> Response:
        return render(request, "overview.html", queries.overview, Filters.parse(request.query_params))

    def topic(request: Request) -> Response:
        filters = Filters.parse(request.query_params)
        return render(request, "topic.html", queries.topic, request.path_params["slug"], filters)

    def story(request: Request) -> Response:
        return render(request, "story.html", queries.story, request.path_params["story_id"])

    def alerts(request: Request) -> Response:
        return render(request, "alerts.html", queries.alerts, Filters.parse(request.query_params))

    def feeds(request: Request) -> Response:
        return render(request, "feeds.html", queries.feeds, Filters.parse(request.query_params))

    def error_page(request: Request, status: int, message: str) -> Response:
        context = {"status": status, "message": message, "path": request.url.path}
        return templates.TemplateResponse(request, "error.html", context, status_code=status)

    async def on_filter_error(request: Request, exc: Exception) -> Response:
        return error_page(request, 400, str(exc))

    async def on_not_found(request: Request, exc: Exception) -> Response:
        return error_page(request, 404, str(exc))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        text = "no such page: the dashboard has /, /topics/SLUG, /stories/ID, /alerts and /feeds"
        return error_page(request, status, text if status == 404 else str(getattr(exc, "detail", exc)))

    async def on_newsmon_error(request: Request, exc: Exception) -> Response:
        log.warning("%s: %s", request.url.path, exc)
        return error_page(request, 503, str(exc))

    routes = [
        Route("/", overview, name="overview"),
        Route("/topics/{slug}", topic, name="topic"),
        Route("/stories/{story_id}", story, name="story"),
        Route("/alerts", alerts, name="alerts"),
        Route("/feeds", feeds, name="feeds"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            FilterError: on_filter_error,
            NotFoundError: on_not_found,
            HTTPException: on_http_error,
            NewsmonError: on_newsmon_error,
        },
    )
    app.add_middleware(SecurityHeaders)
    app.state.reader = reader
    return app
