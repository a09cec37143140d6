"""Alert digests: per run and per topic, what is new, what surged and which feeds went quiet.

A topic alerts when a run finds a story that is new to it, or when its count of unique stories
today is a spike against its trailing baseline (see :mod:`newsmon.trends`; one spike alert per
topic and day). New copies of stories the topic already had never alert on their own. Feeds that
went silent make one more section. Each section is Markdown (a file per alert, the terminal, the
notifications) and HTML; a run's sections make one self-contained HTML page with an inline SVG
chart per topic.

Everything that comes from documents or feeds (titles, sources, evidence, feed names) is
escaped: no HTML, no Markdown links or images can be injected, and links are kept only for
``http``, ``https`` and ``file`` URLs (in an ``http(s)`` one, the characters that could end
the link are percent-encoded; a ``file`` URL with them is not linked). The HTML page loads
nothing from elsewhere and forbids scripts through its Content-Security-Policy.
"""

from __future__ import annotations

import html
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from newsmon.config import ALERT_MAX_AGE_DAYS
from newsmon.models import AlertItem, AlertRecord, AlertRule, SpikeParams, StoryLine
from newsmon.text import sha256_hex, shorten
from newsmon.topics import EVIDENCE_JOIN
from newsmon.trends import SourceCadence, TrendPoint, span_days

log = logging.getLogger(__name__)
DEFAULT_RULE = AlertRule()

SOURCES_TOPIC = "sources:silent"  # the pseudo-topic of silent-feed alerts (never a valid topic slug)
CHART_DAYS = 28
TOP_STORIES = 8
TITLE_CHARS = 200  # a longer headline is cut at a word, with an ellipsis

_MD_SPECIAL = re.compile(r"([\\`*_\[\]!|~])")
_HTML_SPECIAL = {"<": "&lt;", ">": "&gt;"}
_REFERENCE_START = re.compile(r"&(?=#?\w+;)")  # an & that would be read as a character reference
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_WEB = ("http://", "https://")
_URL_FORBIDDEN = re.compile(r"[\s<>()\"'`\\\x00-\x1f\x7f]")
_SPARK = "▁▂▃▄▅▆▇█"


# --- escaping -----------------------------------------------------------------------------


def escape_markdown(text: str) -> str:
    """Escape Markdown and HTML syntax so ``text`` renders literally, on one line.

    ``<`` and ``>`` become entities (no HTML can start), as does an ``&`` that would start a
    character reference (``&lt;`` stays as typed; "AT&T" stays readable), and the characters
    that open inline Markdown (emphasis, code, links, images, tables) are backslash-escaped.
    ``<`` and ``>`` are not backslash-escaped: Python-Markdown, which Apprise uses to make HTML
    of a notification, reads ``\\<`` as a backslash and a tag (``\\<b>`` is bold), and shows
    the backslash of ``\\<`` even when the ``>`` is escaped too.
    """
    flat = _REFERENCE_START.sub("&amp;", " ".join(text.split()))
    flat = "".join(_HTML_SPECIAL.get(c, c) for c in flat)
    return _MD_SPECIAL.sub(r"\\\1", flat)


def safe_url(url: str) -> str | None:
    """``url`` as a link target that nothing can break out of, or None: an ``http`` or
    ``https`` URL with the characters that could end a Markdown or HTML link (white space,
    quotes, ``<``, ``>``, parentheses, backtick, backslash, control characters)
    percent-encoded; a ``file`` URL only when it has none of them; no other scheme."""
    lowered = url.lower()
    if lowered.startswith(_WEB):
        return _URL_FORBIDDEN.sub(_percent_encoded, url)
    if lowered.startswith("file:") and not _URL_FORBIDDEN.search(url):
        return url
    return None


def _percent_encoded(found: re.Match[str]) -> str:
    """The matched character percent-encoded (its UTF-8 bytes, ``"`` as ``%22``)."""
    return quote(found.group(), safe="")


def markdown_link(label: str, url: str) -> str:
    """A Markdown link if ``url`` is safe (see :func:`safe_url`), else the escaped label alone."""
    target = safe_url(url)
    if target is None:
        return escape_markdown(label)
    return f"[{escape_markdown(label)}]({target})"


def escape_html(text: str) -> str:
    """Text for HTML content or a quoted attribute, on one line."""
    return html.escape(" ".join(text.split()), quote=True)


def html_link(label: str, url: str) -> str:
    """An HTML link if ``url`` is safe (see :func:`safe_url`), else the escaped label alone."""
    target = safe_url(url)
    if target is None:
        return escape_html(label)
    return f'<a href="{html.escape(target, quote=True)}" rel="noopener noreferrer nofollow">{escape_html(label)}</a>'


# --- inputs and records -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopicInput:
    """What the alert stage knows about one topic."""

    topic: str
    name: str
    items: Sequence[AlertItem]  # tagged documents not alerted yet
    stories: Sequence[StoryLine]  # the stories of those items, and of today's spike
    trend: Sequence[TrendPoint]  # daily trend up to the run's day
    spike_alerted: bool = False  # a spike alert for this topic and day exists already


class _Named(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


def alert_id(run_id: str, topic: str) -> str:
    """The id of a run's alert for a topic: stable, so a rerun of the stage cannot duplicate it."""
    return sha256_hex(f"{run_id}\x00{topic}")[:20]


# --- assembling ---------------------------------------------------------------------------


def stories_wanted(
    pending: Mapping[str, Sequence[AlertItem]],
    trends: Mapping[str, Sequence[TrendPoint]],
    day: date,
    day_stories: Mapping[str, set[str]],
    spike_alerted: set[str],
) -> set[tuple[str, str]]:
    """The (topic, story) pairs a digest may list: the stories of pending items, and for a topic
    whose day is a fresh spike, that day's stories."""
    wanted = {(topic, i.story_id) for topic, items in pending.items() for i in items}
    for topic, trend in trends.items():
        point = today_point(trend, day)
        if point is not None and point.is_spike and topic not in spike_alerted:
            wanted |= {(topic, s) for s in day_stories.get(topic, set())}
    return wanted


def topic_input(
    topic: str,
    name: str,
    items: Sequence[AlertItem],
    trend: Sequence[TrendPoint],
    lines: Mapping[tuple[str, str], StoryLine],
    spike_alerted: bool,
) -> TopicInput:
    """One topic's input, its story lines marked new to the topic or carrying new copies."""
    new_ids = {i.story_id for i in items if i.is_new_story}
    new_docs: dict[str, int] = {}
    for item in items:
        new_docs[item.story_id] = new_docs.get(item.story_id, 0) + 1
    stories = [
        replace(line, is_new=line.story_id in new_ids, new_documents=new_docs.get(line.story_id, 0))
        for (t, _s), line in lines.items()
        if t == topic
    ]
    return TopicInput(topic, name, items, stories, trend, spike_alerted)


# --- deciding -----------------------------------------------------------------------------


def today_point(trend: Sequence[TrendPoint], day: date) -> TrendPoint | None:
    """The trend point of ``day``, if the trend reaches it."""
    return trend[-1] if trend and trend[-1].day == day else None


def build_topic_alert(
    run_id: str,
    now: datetime,
    data: TopicInput,
    dashboard_url: str | None = None,
    max_age_days: float = ALERT_MAX_AGE_DAYS,
    rule: AlertRule = DEFAULT_RULE,
) -> AlertRecord | None:
    """The topic's alert for this run, or None when nothing new and no fresh spike; with a
    ``dashboard_url``, each story links to its page there.

    A story new to the topic whose copies were all published more than ``max_age_days``
    before the run (a new feed's backlog) does not alert on its own: it waits, pending, and is
    listed with the topic's next alert. The topic's ``rule`` may ask for several recent new
    stories before an alert (they wait, pending, until there are), or for no spike alerts."""
    point = today_point(data.trend, now.date())
    new_story_ids, recent_ids = _new_stories(data.items, now, max_age_days)
    old_ids = new_story_ids - recent_ids
    fresh_spike = point is not None and point.is_spike and not data.spike_alerted and rule.spikes
    if len(recent_ids) < rule.min_new_stories and not fresh_spike:
        return None
    triggers = {**_topic_triggers(data, point, fresh_spike, len(new_story_ids)), "old_new_stories": len(old_ids)}
    triggers["max_age_days"] = max_age_days
    if rule.min_new_stories > 1:
        triggers["min_new_stories"] = rule.min_new_stories
    if not rule.spikes:
        triggers["spike_alerts"] = False
    stories = rank_stories(data.stories, now - timedelta(days=max_age_days))
    return AlertRecord(
        id=alert_id(run_id, data.topic),
        run_id=run_id,
        topic=data.topic,
        kind="topic",
        created_at=now,
        day=now.date(),
        document_count=len(data.items),
        story_count=len({i.story_id for i in data.items}),
        new_stories=len(new_story_ids),
        spike=fresh_spike,
        triggers=triggers,
        markdown=render_topic_markdown(
            data.topic, data.name, run_id, now, triggers, stories, data.trend, dashboard_url
        ),
        html=render_topic_html(data.topic, data.name, triggers, stories, data.trend, dashboard_url),
        title=alert_title(data.name, triggers),
    )


def no_alert_reason(
    data: TopicInput, now: datetime, max_age_days: float = ALERT_MAX_AGE_DAYS, rule: AlertRule = DEFAULT_RULE
) -> str | None:
    """Why a topic whose :func:`build_topic_alert` made no alert in this run did not, in words
    for the run's log (None when it had no pending items)."""
    if not data.items:
        return None
    new_ids, recent = _new_stories(data.items, now, max_age_days)
    if recent:
        return (
            f"{_plural(len(recent), 'recent new story', 'recent new stories')}, fewer than its min_new_stories"
            f" ({rule.min_new_stories}): no alert, they wait for more"
        )
    if new_ids:
        return (
            f"{_plural(len(new_ids), 'new story', 'new stories')} published over {max_age_days:g} days ago:"
            " no alert on their own, listed with the next one"
        )
    return f"{_plural(len(data.items), 'new copy', 'new copies')} of stories it had: no alert"


def _new_stories(items: Sequence[AlertItem], now: datetime, max_age_days: float) -> tuple[set[str], set[str]]:
    """The stories new to the topic, and those of them published in the last ``max_age_days``."""
    new_ids = {i.story_id for i in items if i.is_new_story}
    return new_ids, new_ids & _recent_stories(items, now - timedelta(days=max_age_days))


def _recent_stories(items: Sequence[AlertItem], since: datetime) -> set[str]:
    """The stories with a copy published since ``since``, or with no publication time (dated by
    its first sighting, now)."""
    return {i.story_id for i in items if i.published_at is None or i.published_at >= since}


def _topic_triggers(data: TopicInput, point: TrendPoint | None, fresh_spike: bool, new_stories: int) -> dict[str, Any]:
    return {
        "new_stories": new_stories,
        "new_documents": len(data.items),
        "new_copies": sum(1 for i in data.items if not i.is_new_story),
        "spike": fresh_spike,
        "today": _point_json(point) if point is not None else None,
        "history_days": len(data.trend),
    }


def _point_json(point: TrendPoint) -> dict[str, Any]:
    return {
        "day": point.day.isoformat(),
        "stories": point.stories,
        "documents": point.documents,
        "baseline_days": point.baseline_days,
        "baseline": point.baseline,
        "expected": point.expected,
        "ratio": point.ratio,
        "p_value": point.p_value,
        "score": point.score,
        "is_spike": point.is_spike,
        "backlog": point.backlog,
        "gap_days": point.gap_days,
    }


def build_sources_alert(run_id: str, now: datetime, silent: Sequence[SourceCadence]) -> AlertRecord | None:
    """One alert for the feeds that newly went silent in this run, or None."""
    if not silent:
        return None
    triggers = {"silent": [_cadence_json(c) for c in silent]}
    return AlertRecord(
        id=alert_id(run_id, SOURCES_TOPIC),
        run_id=run_id,
        topic=SOURCES_TOPIC,
        kind="sources",
        created_at=now,
        day=now.date(),
        document_count=0,
        story_count=0,
        new_stories=0,
        spike=False,
        triggers=triggers,
        markdown=render_sources_markdown(run_id, now, silent),
        html=render_sources_html(now, silent),
        title=f"newsmon: {len(silent)} feed{'s' if len(silent) != 1 else ''} went silent",
    )


def _cadence_json(c: SourceCadence) -> dict[str, Any]:
    return {
        "name": c.name,
        "url": c.url,
        "observed": c.observed,
        "quietest": c.quietest,
        "mean": c.mean,
        "history_days": c.history_days,
        "p_value": c.p_value,
        "last_seen_at": c.last_seen_at.isoformat() if c.last_seen_at else None,
        "status": c.status,
        "last_error_kind": c.last_error_kind,
    }


def rank_stories(stories: Sequence[StoryLine], old_before: datetime | None = None) -> list[StoryLine]:
    """Stories new to the topic first, then the others (new copies of stories it already had,
    the day's other stories); within each, a story whose copies were all published before
    ``old_before`` (a backlog) after the recent ones; then the most widely carried first:
    copies, then sources, then tag score; ties by headline."""

    def old(s: StoryLine) -> bool:
        return old_before is not None and s.latest_at is not None and s.latest_at < old_before

    return sorted(
        stories,
        key=lambda s: (not s.is_new, old(s), -s.documents, -len(s.sources), -s.score, s.headline, s.story_id),
    )


def more_stories(stories: Sequence[StoryLine]) -> str | None:
    """The line for the stories past :data:`TOP_STORIES` (None when all are listed), saying how
    many of them are new to the topic, so that the listed and the hidden new stories add up to
    the count in the title."""
    hidden = stories[TOP_STORIES:]
    if not hidden:
        return None
    new = sum(1 for s in hidden if s.is_new)
    if new == len(hidden):
        return f"… and {_plural(new, 'more new story', 'more new stories')}."
    which = f"{new} of them new" if new else "none of them new"
    return f"… and {_plural(len(hidden), 'more story', 'more stories')}, {which}."


def alert_title(name: str, triggers: Mapping[str, Any]) -> str:
    """A one-line title for notifications."""
    parts = []
    today = triggers.get("today") or {}
    if triggers.get("spike"):
        parts.append(f"spike: {today.get('stories')} stories, {today.get('ratio') or 0:.1f}× expected")
    if triggers.get("new_stories"):
        n = triggers["new_stories"]
        parts.append(f"{n} new stor{'ies' if n != 1 else 'y'}")
    return f"newsmon: {name} — {', '.join(parts)}"


# --- text pieces --------------------------------------------------------------------------


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def trigger_lines(triggers: Mapping[str, Any]) -> list[str]:
    """Plain-text sentences saying what triggered a topic alert, with the numbers."""
    lines: list[str] = []
    today = triggers.get("today")
    if triggers.get("spike") and today:
        lines.append(
            f"Spike: {_first_seen(today, 'unique story', 'unique stories')} "
            f"(today; {_plural(today['documents'], 'document')}) against a baseline of {today['baseline']:.1f} a day "
            f"over {today['baseline_days']} days (expected {today['expected']:.1f}): "
            f"{today['ratio']:.1f}× expected, p = {today['p_value']:.1e}, score {today['score']:.1f}."
        )
    elif today and today.get("expected") is not None:
        verdict = "no spike"
        if today.get("is_spike"):
            verdict = (
                "a spike, whose alerts are off for this topic"
                if triggers.get("spike_alerts") is False
                else ("a spike, alerted earlier today")
            )
        lines.append(
            f"Trend: {_first_seen(today)} (today) against a baseline of {today['baseline']:.1f} a day "
            f"(expected {today['expected']:.1f}; {today['ratio']:.1f}× expected, score {today['score']:.1f}):"
            f" {verdict}."
        )
    elif today:
        lines.append(
            f"Trend: {_first_seen(today)} (today); no baseline yet "
            f"({today['baseline_days']} of the 3 baseline days needed)."
        )
    if today and today.get("gap_days") and today.get("expected") is not None:
        gap = today["gap_days"]
        missed = "yesterday" if gap == 1 else f"on the {gap} days before today"
        lines.append(
            f"No monitor run {missed}: expected counts {span_days(gap, SpikeParams()):g} days of news,"
            " as what was missed arrives today."
        )
    if today and today.get("backlog"):
        lines.append(
            f"Not counted: {_plural(today['backlog'], 'story', 'stories')} first seen today whose copies were all "
            f"published more than {SpikeParams().backlog_days:g} days before (a backlog, not news of the day)."
        )
    if triggers.get("new_stories"):
        copies = triggers.get("new_copies", 0)
        known = f" ({_plural(copies, 'copy', 'copies')} of stories it already had)" if copies else ""
        old = triggers.get("old_new_stories", 0)
        aged = f" {old} of them published more than {triggers['max_age_days']:g} days before this run." if old else ""
        least = triggers.get("min_new_stories")
        waited = f" This topic alerts from {least} new stories." if least else ""
        lines.append(
            f"New: {_plural(triggers['new_stories'], 'story', 'stories')} new to this topic, "
            f"{_plural(triggers['new_documents'], 'new document')} in all{known}.{aged}{waited}"
        )
    return lines


def _first_seen(today: Mapping[str, Any], word: str = "story", plural: str = "stories") -> str:
    """``N stories with a copy first seen on DAY``: what the trend counts, a story on
    each day newsmon first saw a copy of it, whatever its publication date (a story new
    yesterday counts today too when a copy of it arrives today)."""
    return f"{_plural(today['stories'], word, plural)} with a copy first seen on {today['day']}"


def sparkline(points: Sequence[TrendPoint]) -> str:
    """The daily story counts as a line of block characters."""
    if not points:
        return ""
    top = max(p.stories for p in points) or 1
    return "".join(_SPARK[min(len(_SPARK) - 1, round(p.stories / top * (len(_SPARK) - 1)))] for p in points)


def _story_meta(story: StoryLine) -> str:
    status = "new story" if story.is_new else ("new copies" if story.new_documents else "earlier today")
    published = f"published {story.published_at:%Y-%m-%d %H:%M} UTC" if story.published_at else "no publication date"
    return (
        f"{status} · {_plural(story.reprints, 'reprint')} · {_plural(len(story.sources), 'source')}: "
        f"{', '.join(story.sources)} · {published} · first seen {story.first_seen_at:%Y-%m-%d %H:%M} UTC"
    )


def story_title(story: StoryLine) -> str:
    """The story's headline as the digest shows it: at most :data:`TITLE_CHARS` characters."""
    return shorten(story.headline, TITLE_CHARS)


def story_evidence(story: StoryLine) -> str | None:
    """The evidence to quote under the story's headline, without repeating the headline: None
    when the evidence is the headline itself (or empty), and evidence that reads the headline
    with a sentence after it (its lede, a context sentence) from that sentence on, "… lede"."""
    evidence, headline = " ".join(story.evidence.split()), " ".join(story.headline.split())
    if not evidence or evidence == headline:
        return None
    joined = headline + EVIDENCE_JOIN
    if headline and evidence.startswith(joined):
        return EVIDENCE_JOIN.lstrip() + evidence[len(joined) :]
    return evidence


def dashboard_link(dashboard_url: str | None, story_id: str) -> str | None:
    """The story's page on the dashboard (``{dashboard_url}/stories/{story_id}``), if one is configured."""
    if not dashboard_url:
        return None
    return safe_url(f"{dashboard_url.rstrip('/')}/stories/{quote(story_id, safe='')}")


# --- Markdown -----------------------------------------------------------------------------


def render_topic_markdown(
    topic: str,
    name: str,
    run_id: str,
    now: datetime,
    triggers: Mapping[str, Any],
    stories: Sequence[StoryLine],
    trend: Sequence[TrendPoint],
    dashboard_url: str | None = None,
) -> str:
    """One topic's section as a Markdown document."""
    lines = [
        f"# {escape_markdown(name)} ({escape_markdown(topic)})",
        "",
        f"Run `{escape_markdown(run_id)}` at {now:%Y-%m-%d %H:%M} UTC.",
        "",
    ]
    lines += [f"- {escape_markdown(t)}" for t in trigger_lines(triggers)]
    recent = list(trend)[-CHART_DAYS:]
    if recent:
        lines += [
            "",
            f"Unique stories a day by first sighting, {recent[0].day} to {recent[-1].day}: `{sparkline(recent)}` "
            f"(today {recent[-1].stories}, peak {max(p.stories for p in recent)})",
        ]
    lines.append("")
    for n, story in enumerate(stories[:TOP_STORIES], 1):
        lines.append(f"{n}. **{markdown_link(story_title(story), story.url)}**\\")  # a hard line break
        link = dashboard_link(dashboard_url, story.story_id)
        on_dashboard = f" · [dashboard]({link})" if link else ""
        lines.append(f"   {escape_markdown(_story_meta(story))}{on_dashboard}")
        evidence = story_evidence(story)
        if evidence is not None:
            lines.append(f"   > {escape_markdown(evidence)}")
        lines.append("")
    more = more_stories(stories)
    if more is not None:
        lines += [escape_markdown(more), ""]
    return "\n".join(lines)


def render_sources_markdown(run_id: str, now: datetime, silent: Sequence[SourceCadence]) -> str:
    """The silent feeds as a Markdown document."""
    lines = [
        f"# Silent feeds ({SOURCES_TOPIC})",
        "",
        f"Run `{escape_markdown(run_id)}` at {now:%Y-%m-%d %H:%M} UTC: "
        f"{_plural(len(silent), 'feed')} delivered at most a quarter of their quietest day of the "
        "previous two weeks in the last 24 hours.",
        "",
        "| feed | last 24 h | quietest day | mean a day | last item | feed status |",
        "|---|---:|---:|---:|---|---|",
    ]
    for c in silent:
        lines.append(
            f"| {escape_markdown(c.name)} | {c.observed} | {c.quietest} | {c.mean or 0:.1f} | "
            f"{_when(c.last_seen_at)} | {escape_markdown(_status(c))} |"
        )
    lines.append("")
    return "\n".join(lines)


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "never"


def _status(c: SourceCadence) -> str:
    if c.status is None:
        return "unknown"
    return f"{c.status} ({c.last_error_kind})" if c.last_error_kind and c.status != "ok" else c.status


def render_run_markdown(records: Sequence[AlertRecord]) -> str:
    """A run's whole digest as one Markdown document (sections in digest order)."""
    if not records:
        return ""
    first = records[0]
    head = f"# newsmon digest: run `{escape_markdown(first.run_id)}` at {first.created_at:%Y-%m-%d %H:%M} UTC\n\n"
    return head + "\n".join("#" + r.markdown if r.markdown.startswith("# ") else r.markdown for r in records)


# --- HTML ---------------------------------------------------------------------------------


def svg_chart(points: Sequence[TrendPoint], title: str, width: int = 640, height: int = 170) -> str:
    """An inline SVG bar chart of unique stories a day, with the baseline as a dashed line."""
    points = list(points)[-CHART_DAYS:]
    if not points:
        return ""
    left, right, top, bottom = 34, 8, 10, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([p.stories for p in points] + [p.expected or 0 for p in points] + [1])
    step = plot_w / len(points)
    bar_w = max(1.0, step * 0.75)

    def y(value: float) -> float:
        return top + plot_h - value / peak * plot_h

    parts = [
        f'<svg class="chart" role="img" aria-label="{escape_html(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f"<title>{escape_html(title)}</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" class="axis"/>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" class="label">{peak:g}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" class="label">0</text>',
    ]
    for i, p in enumerate(points):
        x = left + i * step + (step - bar_w) / 2
        h = max(0.0, top + plot_h - y(p.stories))
        cls = "bar spike" if p.is_spike else "bar"
        tip = f"{p.day}: {_plural(p.stories, 'story', 'stories')}, {_plural(p.documents, 'document')}"
        if not p.observed:
            tip += ", no run that day"
        elif p.expected is not None:
            tip += f", expected {p.expected:.1f}"
            if p.gap_days:
                tip += f" (with the news of the {_plural(p.gap_days, 'day')} without a run before it)"
        parts.append(
            f'<rect class="{cls}" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
            f"<title>{escape_html(tip)}</title></rect>"
        )
    path = baseline_path(points, left, step, y)
    if path:
        parts.append(f'<path class="baseline" d="{path}"><title>baseline: stories expected a day</title></path>')
    parts.append(f'<text x="{left}" y="{height - 8}" class="label">{points[0].day}</text>')
    parts.append(f'<text x="{width - right}" y="{height - 8}" text-anchor="end" class="label">{points[-1].day}</text>')
    parts.append("</svg>")
    return "".join(parts)


def baseline_path(points: Sequence[TrendPoint], left: float, step: float, y: Any) -> str:
    """SVG path data of the baseline as steps: across each day that has one (even a single day),
    joined to the next day's level; a day without one breaks the line."""
    moves: list[str] = []
    joined = False
    for i, p in enumerate(points):
        if p.expected is None:
            joined = False
            continue
        x0, level = left + i * step, y(p.expected)
        moves.append(f"{'V' if joined else 'M' + f'{x0:.1f}'} {level:.1f} H {x0 + step:.1f}")
        joined = True
    return " ".join(moves)


def section_anchor(topic: str) -> str:
    """A safe, unique HTML id for a topic's section."""
    slug = _SAFE_NAME.sub("-", topic).strip("-")[:60] or "topic"
    return f"s-{slug}-{sha256_hex(topic)[:6]}"


def render_topic_html(
    topic: str,
    name: str,
    triggers: Mapping[str, Any],
    stories: Sequence[StoryLine],
    trend: Sequence[TrendPoint],
    dashboard_url: str | None = None,
) -> str:
    """One topic's section of the HTML digest."""
    recent = list(trend)[-CHART_DAYS:]
    parts = [
        f'<section class="topic" id="{section_anchor(topic)}" data-topic="{escape_html(topic)}">',
        f"<h2>{escape_html(name)} <small>{escape_html(topic)}</small></h2>",
        '<ul class="triggers">',
        *[
            f'<li class="{"spike" if t.startswith("Spike") else "info"}">{escape_html(t)}</li>'
            for t in trigger_lines(triggers)
        ],
        "</ul>",
    ]
    if recent:
        caption = f"Unique stories a day by first sighting, {recent[0].day} to {recent[-1].day}; " + (
            "dashed: the baseline (stories expected a day)"
            if any(p.expected is not None for p in recent)
            else f"no baseline yet (it needs {SpikeParams().min_history_days} days of history)"
        )
        parts.append(f"<figure>{svg_chart(recent, f'{name}: {caption}')}<figcaption>{escape_html(caption)}")
        parts.append("</figcaption></figure>")
    parts.append('<ol class="stories">')
    for story in stories[:TOP_STORIES]:
        evidence = story_evidence(story)
        quote = f"<blockquote>{escape_html(evidence)}</blockquote>" if evidence is not None else ""
        parts.append(
            f"<li><strong>{html_link(story_title(story), story.url)}</strong>"
            f'<div class="meta">{escape_html(_story_meta(story))}{_dashboard_html(dashboard_url, story.story_id)}</div>'
            f"{quote}</li>"
        )
    parts.append("</ol>")
    more = more_stories(stories)
    if more is not None:
        parts.append(f"<p>{escape_html(more)}</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _dashboard_html(dashboard_url: str | None, story_id: str) -> str:
    link = dashboard_link(dashboard_url, story_id)
    return f" · {html_link('dashboard', link)}" if link else ""


def render_sources_html(now: datetime, silent: Sequence[SourceCadence]) -> str:
    """The silent feeds' section of the HTML digest."""
    rows = "".join(
        f"<tr><td>{escape_html(c.name)}</td><td>{c.observed}</td><td>{c.quietest}</td><td>{c.mean or 0:.1f}</td>"
        f"<td>{_when(c.last_seen_at)}</td><td>{escape_html(_status(c))}</td></tr>"
        for c in silent
    )
    return (
        f'<section class="sources" id="{section_anchor(SOURCES_TOPIC)}" data-topic="{SOURCES_TOPIC}">'
        f"<h2>Silent feeds</h2><p>{escape_html(_plural(len(silent), 'feed'))} delivered at most a quarter of "
        f"their quietest day of the previous two weeks in the 24 hours to {now:%Y-%m-%d %H:%M} UTC.</p>"
        "<table><thead><tr><th>feed</th><th>last 24 h</th><th>quietest day</th><th>mean a day</th>"
        f"<th>last item</th><th>feed status</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:52em;padding:0 1em;color:#222}
h1{font-size:1.4em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
small{color:#777;font-weight:normal}.triggers li.spike{color:#a40000;font-weight:600}
.meta{color:#555;font-size:.9em}blockquote{margin:.3em 0 .8em 1em;color:#444;font-style:italic}
svg .bar{fill:#6b8fc7}svg .bar.spike{fill:#c7463b}svg .baseline{fill:none;stroke:#333;stroke-dasharray:4 3}
svg .axis{stroke:#999}svg .label{font-size:10px;fill:#555}table{border-collapse:collapse}
td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left}nav li{margin:.1em 0}
"""
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def render_digest_page(records: Sequence[AlertRecord]) -> str:
    """A run's digest as one self-contained HTML page (inline CSS and SVG; no scripts, no remote assets)."""
    if not records:
        raise ValueError("a digest needs at least one alert")
    first = records[0]
    stamp = f"{first.created_at:%Y-%m-%d %H:%M} UTC"
    nav = "".join(f'<li><a href="#{section_anchor(r.topic)}">{escape_html(_nav_label(r))}</a></li>' for r in records)
    sections = "\n".join(r.html or _legacy_section(r) for r in records)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>newsmon digest {escape_html(stamp)}</title><style>{_CSS}</style></head>\n<body>"
        f"<h1>newsmon digest, {escape_html(stamp)}</h1>"
        f'<p class="run">Run <code>{escape_html(first.run_id)}</code>: '
        f"{_plural(len(records), 'section')}.</p><nav><ul>{nav}</ul></nav>\n{sections}\n</body></html>\n"
    )


def _nav_label(record: AlertRecord) -> str:
    if record.kind == "sources":
        return f"Silent feeds ({len(record.triggers.get('silent', []))})"
    flags = []
    if record.spike:
        flags.append("spike")
    if record.new_stories:
        flags.append(_plural(record.new_stories, "new story", "new stories"))
    return f"{record.topic}: {', '.join(flags) or 'update'}"


def _legacy_section(record: AlertRecord) -> str:
    return (
        f'<section class="topic" id="{section_anchor(record.topic)}" data-topic="{escape_html(record.topic)}">'
        f"<h2>{escape_html(record.topic)}</h2><pre>{html.escape(record.markdown)}</pre></section>"
    )


# --- files --------------------------------------------------------------------------------


def _file_stem(created_at: datetime, run_id: str) -> str:
    run = _SAFE_NAME.sub("", run_id)[:8] or "run"
    return f"{created_at:%Y%m%dT%H%M%S}_{run}"


def alert_filename(alert: _Named) -> str:
    """A safe file name for an alert's Markdown: no separators, bounded length, unique per run
    and topic. A topic name that had to be changed (unsafe characters, too long) gets a short
    hash of the original, so two topics never share a file."""
    topic = _SAFE_NAME.sub("-", alert.topic).strip("-")[:60] or "topic"
    if topic != alert.topic:
        topic = f"{topic}-{sha256_hex(alert.topic)[:8]}"
    return f"{_file_stem(alert.created_at, alert.run_id)}_{topic}.md"


def digest_filename(run_id: str, created_at: datetime) -> str:
    """A safe file name for a run's HTML digest."""
    return f"{_file_stem(created_at, run_id)}_digest.html"


def write_text_atomic(path: Path, text: str) -> None:
    """Write a file so that readers see the old content or the new one, never a torn one."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_run_files(records: Sequence[AlertRecord], folder: Path) -> tuple[dict[str, Path], Path]:
    """Write a run's alerts into ``folder``: each section's Markdown and the run's HTML page.

    Returns the absolute Markdown path of each alert id, and the page's absolute path (a
    notification or a run started in another folder must still find them). ``records`` must
    be one run's alerts.
    """
    if not records:
        raise ValueError("no alerts to write")
    folder = folder.absolute()
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for record in records:
        path = folder / alert_filename(record)
        write_text_atomic(path, record.markdown)
        paths[record.id] = path
    page = folder / digest_filename(records[0].run_id, records[0].created_at)
    write_text_atomic(page, render_digest_page(records))
    return paths, page


def runs_missing_files(index: Sequence[tuple[str, str, str | None, str | None]]) -> list[str]:
    """Runs with an alert whose Markdown file or HTML digest is not on disk (never written, lost
    in a crash, or deleted): their files are (re)written from the stored rows."""
    missing = {run_id for _id, run_id, path, page in index if not _exists(path) or not _exists(page)}
    return sorted(missing)


def _exists(path: str | None) -> bool:
    return path is not None and Path(path).is_file()


def write_missing_files(records: Sequence[AlertRecord], folder: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """Write the files of every run in ``records``; return Markdown paths by alert id and pages by run id."""
    by_run: dict[str, list[AlertRecord]] = {}
    for record in records:
        by_run.setdefault(record.run_id, []).append(record)
    paths: dict[str, Path] = {}
    pages: dict[str, Path] = {}
    for run_id, group in sorted(by_run.items()):
        written, page = write_run_files(digest_order(group), folder)
        paths.update(written)
        pages[run_id] = page
        log.info("alert files of run %s written: %d sections, %s", run_id, len(group), page.name)
    return paths, pages


def digest_order(records: Sequence[AlertRecord]) -> list[AlertRecord]:
    """Sections in reading order: spikes first, then new stories, then silent feeds; by topic."""
    return sorted(records, key=lambda r: (r.kind != "topic", not r.spike, r.topic))
