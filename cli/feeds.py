"""``newsmon feeds add|remove|check|reset|list|import|export``: the feeds file, and the feeds'
health from the database.

Feed text (titles, names, URLs) is data: it is printed as plain text, never as console markup.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Column, Table
from rich.text import Text

from cli.app import ConfigOption, DbOption, app, check_closed, console, refuse_output_over_inputs, when, wide
from newsmon.config import Settings, load_settings

if TYPE_CHECKING:
    from newsmon.http import HttpConfig
    from newsmon.models import FeedSpec
    from newsmon.probe import FeedProbe
    from storage.store import Store

feeds_app = typer.Typer(
    help="Manage the feeds newsmon polls (feeds.toml).\n\nExamples:\n\n  newsmon feeds add https://example.com/rss\n\n"
    "  newsmon feeds check --all\n\n  newsmon feeds list --failing\n\n  newsmon feeds remove Example",
    no_args_is_help=True,
)
app.add_typer(feeds_app, name="feeds")

FeedsFileOption = Annotated[
    Path | None, typer.Option("--feeds", help="feeds TOML file [default ./feeds.toml]", show_default=False)
]
OPTIONAL_LOCK_WAIT_S = 3.0  # how long add, remove and check wait for a busy database (a run records it anyway)


def _plain(text: str, **kwargs: Any) -> None:
    console.print(text, highlight=False, markup=False, soft_wrap=True, **kwargs)


def _feeds_file(settings: Settings) -> Path:
    return settings.feeds or Path("feeds.toml")


def _http(settings: Settings) -> HttpConfig:
    from newsmon.http import HttpConfig

    return HttpConfig.from_env(
        settings.http_allow, total_timeout_s=settings.http_timeout_s, concurrency=settings.http_concurrency
    )


def _writer(settings: Settings, wait_s: float | None = None) -> Store | None:
    """The database's writer (the lock taken), None when there is no database yet."""
    from storage.store import Store

    if not settings.db.exists():
        return None
    return Store.open_writer(settings.db, settings.lock_timeout_s if wait_s is None else wait_s)


def _optional_writer(settings: Settings) -> tuple[Store | None, str]:
    """The writer for a write the next run would make anyway; on a busy database, None and why."""
    from newsmon.errors import DatabaseLockedError

    try:
        return _writer(settings, min(settings.lock_timeout_s, OPTIONAL_LOCK_WAIT_S)), ""
    except DatabaseLockedError:
        return None, f"database {settings.db} is busy"


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str, typer.Argument(help="the feed's http(s) URL, or a web page that links feeds")],
    name: Annotated[str | None, typer.Option("--name", help="display name [default: the feed's title]")] = None,
    interval: Annotated[
        str | None, typer.Option("--interval", help="poll interval, e.g. 15m, 2h [default 30m]")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="a tag (repeatable)")] = None,
    no_check: Annotated[bool, typer.Option("--no-check", help="add without fetching the feed")] = False,
    first: Annotated[bool, typer.Option("--first", help="for a web page: add the first feed it links")] = False,
    feeds: FeedsFileOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a feed to the feeds file (created if absent), after fetching it once.

    The feed is fetched through newsmon's HTTP client: a host on a loopback or private address
    needs http_allow in newsmon.toml (or NEWSMON_HTTP_ALLOW). Its title becomes the default
    name (numbered, "Name 2", when another feed has it; a --name in use is refused); its site
    link, language and format go to the database when there is one (else the first run records
    them). A web page is not added: the feeds it links are listed. A URL the file lists already,
    however written (capitals, default port, fragment, dot segments), is not added again.

    Examples:

      newsmon feeds add https://www.theguardian.com/world/rss --interval 15m

      newsmon feeds add https://example.com/ --first --tag tech

      newsmon feeds add https://intranet.example/atom.xml --no-check --name Intranet
    """
    from newsmon.errors import ConfigError, FeedError
    from newsmon.feedlist import format_duration, load_feeds, named_feed, new_feed
    from newsmon.probe import UNREACHABLE, added_state, probe_feed

    settings = load_settings(config, feeds=feeds, db=db)
    path = _feeds_file(settings)
    spec = new_feed(url, name, interval, tag or ())
    listed = load_feeds(path) if path.exists() else []
    if _already_listed(listed, spec.url, path):
        return
    namesake = named_feed(listed, spec.name) if name is not None else None
    if namesake is not None:
        raise ConfigError(
            f"not added: {path} has a feed named {namesake.name!r} already ({namesake.url}): choose another --name"
        )
    if no_check:
        appended = _append(path, spec)
        if appended is None:
            return
        spec = appended
        _plain(f"added {spec.name} ({spec.url}) to {path}, polled every {format_duration(spec.interval_s)};"
               " not fetched (--no-check): `newsmon feeds check` tries it")  # fmt: skip
        return
    probe = probe_feed(spec.url, _http(settings))
    if probe.alternates:
        _print_alternates(spec.url, probe)
        if not first:
            raise FeedError(
                f"not added: {spec.url} is a web page, not a feed: add one of the {len(probe.alternates)} feeds"
                " it links (above) with `newsmon feeds add URL`, or pass --first"
            )
        spec = replace(spec, url=probe.alternates[0].url, name=name or probe.alternates[0].url)
        if _already_listed(listed, spec.url, path):
            return
        probe = probe_feed(spec.url, _http(settings))
    if not probe.ok or probe.feed is None:
        later = " (--no-check adds it without fetching)" if probe.kind in UNREACHABLE else ""
        raise FeedError(f"not added: {spec.url}: {probe.reason}{later}")
    if name is None:
        spec = replace(spec, name=probe.feed.title or new_feed(spec.url).name)
    appended = _append(path, spec)
    if appended is None:
        return
    spec = appended
    recorded = _record_added(settings, spec, added_state(spec, probe))
    feed = probe.feed
    details = ", ".join(
        x for x in (feed.format, f"language {feed.language}" if feed.language else "", f"{len(feed.items)} items") if x
    )
    _plain(f"added {spec.name} ({spec.url}) to {path}: {details}; polled every {format_duration(spec.interval_s)}")
    if recorded:
        _plain(recorded, style="dim")


def _already_listed(listed: list[FeedSpec], url: str, path: Path) -> bool:
    """Whether the feeds file lists ``url``, as written or written another way (then say so)."""
    from newsmon.feedlist import listed_feed

    same = listed_feed(listed, url)
    if same is not None:
        _plain(f"{url} is already in {path}" + ("" if same.url == url else f" as {same.url} ({same.name})"))
    return same is not None


def _append(path: Path, spec: FeedSpec) -> FeedSpec | None:
    """Append the feed to the feeds file and return it as appended (a name another feed has gets
    a number: ``Name 2``); None when the file lists it by now (another add, while this one fetched)."""
    from newsmon.feedlist import append_feeds

    added = append_feeds(path, [spec])
    if not added:
        _plain(f"{spec.url} is already in {path}")
    return added[0] if added else None


def _print_alternates(url: str, probe: FeedProbe) -> None:
    _plain(f"{url} is a web page; it links these feeds:")
    for link in probe.alternates:
        _plain(f"  {link.url}" + (f"  {link.title}" if link.title else ""))


def _record_added(settings: Settings, spec: FeedSpec, state: Any) -> str:
    """Record the added feed's details in the database, if there is one; a note when it could not."""
    from newsmon.probe import ADD_RUN_ID

    store, busy = _optional_writer(settings)
    if store is None:
        return f"{busy}: the feed's details are recorded at its first poll" if busy else ""
    try:
        store.feeds.add([spec], datetime.now(UTC), ADD_RUN_ID)
        store.feeds.record_added(state)
    finally:
        store.close()
    check_closed(store)
    return ""


@feeds_app.command("remove")
def feeds_remove(
    feed: Annotated[str, typer.Argument(help="the feed's name or URL")],
    feeds: FeedsFileOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Remove a feed from the feeds file; its history stays in the database, marked inactive.

    Examples:

      newsmon feeds remove Guardian

      newsmon feeds remove https://www.theguardian.com/world/rss
    """
    from newsmon.errors import ConfigError
    from newsmon.feedlist import remove_feed

    settings = load_settings(config, feeds=feeds, db=db)
    path = _feeds_file(settings)
    if not path.exists():
        raise ConfigError(f"feeds file {path} does not exist: nothing to remove (pass --feeds FILE)")
    spec = remove_feed(path, feed)
    store, busy = _optional_writer(settings)
    if store is None:
        note = f"{busy}: it is marked inactive at the next run" if busy else "no database yet"
    else:
        try:
            store.feeds.deactivate([spec.url])
        finally:
            store.close()
        check_closed(store)
        note = f"its history stays in {settings.db}, marked inactive"
    _plain(f"removed {spec.name} ({spec.url}) from {path}; {note}")


def _chosen(path: Path, names: list[str] | None, every: bool) -> list[FeedSpec]:
    from newsmon.errors import ConfigError
    from newsmon.feedlist import find_feeds, load_feeds

    specs = load_feeds(path)
    if every:
        return specs
    if not names:
        raise ConfigError("name the feeds (their names or URLs), or pass --all: see `newsmon feeds list`")
    return find_feeds(specs, names, str(path))


@feeds_app.command("check")
def feeds_check(
    names: Annotated[list[str] | None, typer.Argument(help="feed names or URLs", show_default=False)] = None,
    every: Annotated[bool, typer.Option("--all", help="check every feed in the feeds file")] = False,
    feeds: FeedsFileOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Poll feeds now and report: status, items, new items, the reason of a failure, next poll.

    A check records the feeds' health in the database (when there is one) and makes a feed that
    answered due now, so the next run collects its new items; it does not store items. Exits
    with 1 when a feed failed.

    Examples:

      newsmon feeds check Guardian

      newsmon feeds check --all
    """
    from newsmon.errors import FeedError
    from newsmon.probe import probe_feeds, record_checks

    settings = load_settings(config, feeds=feeds, db=db)
    specs = _chosen(settings.feeds_path or Path("feeds.toml"), names, every)
    probes = probe_feeds([s.url for s in specs], _http(settings))
    now = datetime.now(UTC)
    store, busy = _optional_writer(settings)
    try:
        checks = record_checks(store.feeds if store is not None else None, specs, probes, now)
    finally:
        if store is not None:
            store.close()
    if store is not None:
        check_closed(store)
    table = Table("name", "status", "items", "new", "next poll", Column("url", overflow="fold"))
    for check in checks:
        status = "ok" if check.probe.ok else check.probe.kind or "failed"
        next_poll = "next run" if check.next_poll_at is None or check.next_poll_at <= now else when(check.next_poll_at)
        items = str(len(check.probe.items)) if check.probe.ok else ""
        new = str(check.new_items) if check.probe.ok else ""
        table.add_row(Text(check.spec.name), status, items, new, next_poll, Text(check.spec.url))
    out = wide()
    out.print(table)
    for check in checks:
        if not check.probe.ok:
            out.print(f"{check.spec.name}: {check.probe.reason}", markup=False, highlight=False, soft_wrap=True)
    if busy:
        out.print(f"{busy}: health not recorded; the next run polls these feeds as scheduled", style="dim")
    failed = sum(not c.probe.ok for c in checks)
    if failed:
        raise FeedError(f"{failed} of {len(checks)} feeds failed the check: see the reasons above")


@feeds_app.command("reset")
def feeds_reset(
    names: Annotated[list[str] | None, typer.Argument(help="feed names or URLs", show_default=False)] = None,
    every: Annotated[bool, typer.Option("--all", help="reset every feed in the feeds file")] = False,
    feeds: FeedsFileOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Clear feeds' back-off: no consecutive failures, polled at the next run.

    Examples:

      newsmon feeds reset Guardian

      newsmon feeds reset --all
    """
    settings = load_settings(config, feeds=feeds, db=db)
    specs = _chosen(settings.feeds_path or Path("feeds.toml"), names, every)
    store = _writer(settings)
    if store is None:
        _plain(f"no database at {settings.db} yet: every feed is polled at the first run")
        return
    try:
        done = set(store.feeds.reset([s.url for s in specs], datetime.now(UTC)))
    finally:
        store.close()
    check_closed(store)
    for spec in specs:
        if spec.url in done:
            _plain(f"reset {spec.name}: failures cleared, polled at the next run")
        else:
            _plain(f"{spec.name}: not polled yet, polled at the next run")


@feeds_app.command("list")
def feeds_list(
    failing: Annotated[bool, typer.Option("--failing", help="only feeds whose last poll failed")] = False,
    feeds: FeedsFileOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List the feeds with their health (from the database, when there is one): status, last
    success, last failure and its class, next poll, items a day over the last 7 days.

    Examples:

      newsmon feeds list

      newsmon feeds list --failing
    """
    from newsmon.errors import DatabaseMissingError
    from newsmon.feedlist import format_duration, load_feeds

    settings = load_settings(config, feeds=feeds, db=db)
    if db is not None and not settings.db.exists():
        raise DatabaseMissingError(f"no database at {settings.db}: run `newsmon run` first or pass --db PATH")
    path = settings.feeds_path or Path("feeds.toml")
    if not path.exists():
        _plain(f"no feeds file at {path}: add a feed with `newsmon feeds add URL` (it creates the file)")
        return
    specs = load_feeds(path)
    health = _health(settings.db) if settings.db.exists() else {}
    now = datetime.now(UTC)
    columns = ("name", "every", "status", "last success", "last failure", "next poll", "items/day")
    table = Table(*columns, Column("url", overflow="fold"))  # a URL is wrapped, never cut
    shown = 0
    for spec in specs:
        row = health.get(spec.url)
        if failing and (row is None or not row["consecutive_failures"]):
            continue
        shown += 1
        if row is None:
            cells = ["not polled yet", "", "", "next run", ""]
        else:
            failure = f"{when(row['last_error_at'])} {row['last_error_kind'] or ''}".strip()
            due = row["next_poll_at"]
            next_poll = "next run" if due is None or due <= now else when(due)
            per_day = "" if row.get("items_per_day") is None else f"{row['items_per_day']:g}"
            cells = [row["status"], when(row["last_success_at"]), failure, next_poll, per_day]
        table.add_row(Text(spec.name), format_duration(spec.interval_s), *cells, Text(spec.url))
    out = wide()
    out.print(table)
    what = f"{shown} failing of {len(specs)} feeds" if failing else f"{len(specs)} feeds"
    out.print(f"{what} in {path}", style="dim", markup=False, highlight=False)


def _health(db: Path) -> dict[str, dict[str, Any]]:
    """``v_feed_health`` by feed URL, each row by column name (from the read snapshot)."""
    from storage.store import open_reader, run_query

    con = open_reader(db)
    try:
        columns, rows = run_query(con, "SELECT * FROM v_feed_health")  # a snapshot of an older schema may lack columns
    finally:
        con.close()
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    return {record["url"]: record for record in records}


@feeds_app.command("import")
def feeds_import(
    opml_file: Annotated[Path, typer.Argument(help="an OPML export of a feed reader")],
    feeds: FeedsFileOption = None,
    config: ConfigOption = None,
) -> None:
    """Import the feeds of an OPML file (folders become tags; only http(s) feeds are taken; feeds
    listed already, however written, are skipped; a name another feed has gets a number).

    Example:

      newsmon feeds import subscriptions.opml
    """
    from newsmon.errors import InputError
    from newsmon.feedlist import append_feeds, read_opml

    settings = load_settings(config, feeds=feeds)
    path = _feeds_file(settings)
    try:
        data = opml_file.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read OPML file {opml_file} ({err.strerror}): check the path") from err
    found = read_opml(data, f"OPML file {opml_file}")
    added = append_feeds(path, found.feeds)
    refused = (
        f"; refused {len(found.refused)} outline(s) whose URL is not http(s) (e.g. {found.refused[0][:80]!r})"
        if found.refused
        else ""
    )
    _plain(f"imported {len(added)} new feeds of {len(found.feeds)} in {opml_file} into {path}{refused}")


@feeds_app.command("export")
def feeds_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="OPML file to write [default: stdout]", show_default=False)
    ] = None,
    feeds: FeedsFileOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Export the feeds as OPML 2.0 for a feed reader (folders from each feed's first tag).

    Examples:

      newsmon feeds export --output subscriptions.opml

      newsmon feeds export > subscriptions.opml
    """
    from newsmon.feedlist import load_feeds, render_opml

    settings = load_settings(config, feeds=feeds, db=db)
    path = settings.feeds_path or Path("feeds.toml")
    specs = load_feeds(path)
    sites = {url: row.get("site_url") for url, row in _health(settings.db).items()} if settings.db.exists() else {}
    text = render_opml(specs, f"newsmon feeds ({path.name})", {u: s for u, s in sites.items() if s})
    if output is None:
        typer.echo(text, nl=False)
        return
    refuse_output_over_inputs(output, settings, config)
    output.write_text(text, encoding="utf-8")
    _plain(f"exported {len(specs)} feeds of {path} to {output}")
