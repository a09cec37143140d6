"""Alert summaries: per topic, what a run found new, as Markdown.

Everything that comes from documents (titles, sources, evidence) is escaped, so a hostile
title cannot inject links, images or HTML into the summary; links are kept only for
``http``, ``https`` and ``file`` URLs.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from newsmon.models import Alert, AlertItem
from newsmon.text import sha256_hex

log = logging.getLogger(__name__)

_MD_SPECIAL = re.compile(r"([\\`*_\[\]!|~])")
_HTML_SPECIAL = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_LINKABLE = ("http://", "https://", "file:")


def escape_markdown(text: str) -> str:
    """Escape Markdown and HTML syntax so ``text`` renders literally, on one line.

    ``&``, ``<`` and ``>`` become entities (no HTML can start), and the characters that
    open inline Markdown (emphasis, code, links, images, tables) are backslash-escaped.
    """
    flat = " ".join(text.split())
    flat = "".join(_HTML_SPECIAL.get(c, c) for c in flat)
    return _MD_SPECIAL.sub(r"\\\1", flat)


def markdown_link(label: str, url: str) -> str:
    """A Markdown link if ``url`` has a safe scheme, else the escaped label alone."""
    if not url.lower().startswith(_LINKABLE) or any(c in url for c in " <>()\n"):
        return escape_markdown(label)
    return f"[{escape_markdown(label)}]({url})"


def render_alert(topic: str, topic_name: str, run_id: str, now: datetime, items: Sequence[AlertItem]) -> str:
    """Render one topic's alert as Markdown: counts, then the new stories and their evidence."""
    stories: OrderedDict[str, list[AlertItem]] = OrderedDict()
    for item in sorted(items, key=lambda i: (-i.score, i.title)):
        stories.setdefault(item.story_id, []).append(item)
    new_stories = sum(1 for group in stories.values() if any(i.is_new_story for i in group))
    lines = [
        f"# {escape_markdown(topic_name)} ({escape_markdown(topic)})",
        "",
        f"Run `{run_id}` at {now:%Y-%m-%d %H:%M} UTC: **{len(items)} new document"
        f"{'s' if len(items) != 1 else ''}** in {len(stories)} stor{'ies' if len(stories) != 1 else 'y'}"
        f" ({new_stories} new).",
        "",
    ]
    for n, (story_id, group) in enumerate(stories.items(), 1):
        lead = group[0]
        sources = sorted({i.source for i in group})
        status = "new story" if lead.is_new_story else "new copies of a known story"
        lines.append(f"{n}. **{markdown_link(lead.title, lead.url)}**")
        lines.append(
            f"   {status} · {len(group)} new document{'s' if len(group) != 1 else ''} · sources: "
            f"{escape_markdown(', '.join(sources))} · score {lead.score:.2f} · story `{story_id}`"
        )
        lines.append(f"   > {escape_markdown(lead.evidence)}")
        lines.append("")
    return "\n".join(lines)


def build_alerts(
    run_id: str,
    now: datetime,
    items_by_topic: Mapping[str, Sequence[AlertItem]],
    topic_names: Mapping[str, str],
) -> list[Alert]:
    """One alert per topic that has new documents; topics with nothing new get none."""
    alerts: list[Alert] = []
    for topic in sorted(items_by_topic):
        items = items_by_topic[topic]
        if not items:
            log.info("topic %s: nothing new, no alert", topic)
            continue
        markdown = render_alert(topic, topic_names.get(topic, topic), run_id, now, items)
        alerts.append(
            Alert(
                id=sha256_hex(f"{run_id}\x00{topic}")[:20],
                run_id=run_id,
                topic=topic,
                created_at=now,
                document_count=len(items),
                story_count=len({i.story_id for i in items}),
                markdown=markdown,
            )
        )
    return alerts


def alert_filename(alert: Alert) -> str:
    """A safe file name for an alert: no separators, bounded length, unique per run and topic.

    A topic name that had to be changed (unsafe characters, too long) gets a short hash of the
    original, so two topics never share a file.
    """
    topic = _SAFE_NAME.sub("-", alert.topic).strip("-")[:60] or "topic"
    if topic != alert.topic:
        topic = f"{topic}-{sha256_hex(alert.topic)[:8]}"
    run = _SAFE_NAME.sub("", alert.run_id)[:8] or "run"
    return f"{alert.created_at:%Y%m%dT%H%M%S}_{run}_{topic}.md"


def write_alerts(alerts: Sequence[Alert], folder: Path) -> list[Path]:
    """Write each alert's Markdown into ``folder`` (created if needed); return the paths."""
    if not alerts:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for alert in alerts:
        path = folder / alert_filename(alert)
        path.write_text(alert.markdown, encoding="utf-8")
        paths.append(path)
    return paths
