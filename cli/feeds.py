"""``newsmon feeds add|import|list``: the feeds file, and the feeds' health from the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.app import ConfigOption, DbOption, app, console, when, wide
from newsmon.config import load_settings

feeds_app = typer.Typer(
    help="Manage the feeds newsmon polls (feeds.toml).\n\nExamples:\n\n  newsmon feeds add https://example.com/rss\n\n"
    "  newsmon feeds list",
    no_args_is_help=True,
)
app.add_typer(feeds_app, name="feeds")

FeedsFileOption = Annotated[
    Path | None, typer.Option("--feeds", help="feeds TOML file [default ./feeds.toml]", show_default=False)
]


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str, typer.Argument(help="the feed's http(s) URL")],
    name: Annotated[str | None, typer.Option("--name", help="display name [default: the host]")] = None,
    interval: Annotated[
        str | None, typer.Option("--interval", help="poll interval, e.g. 15m, 2h [default 30m]")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="a tag (repeatable)")] = None,
    feeds: FeedsFileOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a feed to the feeds file (created if absent).

    Examples:

      newsmon feeds add https://www.theguardian.com/world/rss --name Guardian --interval 15m

      newsmon feeds add https://example.com/atom.xml --tag tech --feeds my-feeds.toml
    """
    from newsmon.feeds import append_feeds, new_feed

    settings = load_settings(config, feeds=feeds)
    path = settings.feeds or Path("feeds.toml")
    spec = new_feed(url, name, interval, tag or ())
    added = append_feeds(path, [spec])
    console.print(f"added {spec.name} to {path}" if added else f"{spec.url} is already in {path}", highlight=False)


@feeds_app.command("import")
def feeds_import(
    opml_file: Annotated[Path, typer.Argument(help="an OPML export of a feed reader")],
    feeds: FeedsFileOption = None,
    config: ConfigOption = None,
) -> None:
    """Import the feeds of an OPML file (folders become tags).

    Example:

      newsmon feeds import subscriptions.opml
    """
    from newsmon.errors import InputError
    from newsmon.feeds import append_feeds, parse_opml

    settings = load_settings(config, feeds=feeds)
    path = settings.feeds or Path("feeds.toml")
    try:
        data = opml_file.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read OPML file {opml_file} ({err.strerror}): check the path") from err
    specs = parse_opml(data)
    added = append_feeds(path, specs)
    console.print(f"imported {len(added)} new feeds of {len(specs)} in {opml_file} into {path}", highlight=False)


@feeds_app.command("list")
def feeds_list(
    feeds: FeedsFileOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List the feeds with their health (from the database, when there is one).

    Example:

      newsmon feeds list
    """
    from newsmon.feeds import load_feeds

    settings = load_settings(config, feeds=feeds, db=db)
    path = settings.feeds_path or Path("feeds.toml")
    specs = load_feeds(path) if path.exists() else []
    health: dict[str, tuple[Any, ...]] = {}
    if settings.db.exists():
        from storage.store import open_reader, run_query

        con = open_reader(settings.db)
        try:
            _, rows = run_query(
                con,
                "SELECT url, status, last_success_at, consecutive_failures, last_error_kind, next_poll_at,"
                " items_stored FROM v_feed_health",
            )
        finally:
            con.close()
        health = {row[0]: row[1:] for row in rows}
    table = Table("name", "url", "every", "status", "last success", "failures", "last error", "next poll", "items")
    for spec in specs:
        status, success, failures, error, next_poll, items = health.get(
            spec.url, ("not polled yet", None, 0, None, None, 0)
        )
        table.add_row(
            spec.name, spec.url, f"{spec.interval_s / 60:.0f}m", str(status), when(success), str(failures),
            error or "", when(next_poll), str(items),
        )  # fmt: skip
    out = wide()
    out.print(table)
    out.print(f"{len(specs)} feeds in {path}", style="dim")
