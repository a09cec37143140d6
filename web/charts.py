"""Vega-Lite specifications of the dashboard's charts, as plain dictionaries.

A page embeds each one as JSON (``<script type="application/json">``, never markup) and
``static/dashboard.js`` renders it with the vendored vega-embed, as SVG. Values from the
database travel in ``data.values`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storage.dashboard import TrendRow

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"  # an identifier: never fetched
BAR, SPIKE, BASELINE = "#6b8fc7", "#c7463b", "#333333"


def trend_values(rows: Sequence[TrendRow]) -> list[dict[str, Any]]:
    """The chart's data: one record per day (numbers rounded for the tooltip)."""
    return [
        {
            "day": row.day.isoformat(),
            "stories": row.stories,
            "documents": row.documents,
            "baseline": None if row.expected is None else round(row.expected, 2),
            "ratio": None if row.ratio is None else round(row.ratio, 2),
            "score": round(row.score, 1),
            "marker": "spike" if row.is_spike else "stories a day",
            "note": _day_note(row),
        }
        for row in rows
    ]


def _day_note(row: TrendRow) -> str | None:
    """What the tooltip says about a day without a run, or the day after such days."""
    if not row.observed:
        return "no monitor run that day"
    if row.gap_days:
        days = "1 day" if row.gap_days == 1 else f"{row.gap_days} days"
        return f"with the news of {days} without a run"
    return None


def trend_chart(rows: Sequence[TrendRow], title: str, height: int = 220, legend: bool = True) -> dict[str, Any]:
    """Unique stories a day as bars (spike days in red, with a marker above), and the expected
    count from the baseline as a dashed line (days without enough history have none)."""
    x = {"field": "day", "type": "temporal", "timeUnit": "utcyearmonthdate", "title": None, "axis": {"format": "%b %d"}}
    tooltip = [
        {"field": "day", "type": "temporal", "timeUnit": "utcyearmonthdate", "title": "day"},
        {"field": "stories", "type": "quantitative", "title": "stories"},
        {"field": "documents", "type": "quantitative", "title": "documents"},
        {"field": "baseline", "type": "quantitative", "title": "expected (baseline)"},
        {"field": "ratio", "type": "quantitative", "title": "× expected"},
        {"field": "score", "type": "quantitative", "title": "spike score"},
        {"field": "note", "type": "nominal", "title": "note"},
    ]
    color = {
        "field": "marker",
        "type": "nominal",
        "title": None,
        "scale": {"domain": ["stories a day", "spike"], "range": [BAR, SPIKE]},
        "legend": {"orient": "top"} if legend else None,
    }
    layers: list[dict[str, Any]] = [
        {
            "mark": {"type": "bar", "tooltip": True},
            "encoding": {
                "x": x,
                "y": {"field": "stories", "type": "quantitative", "title": "unique stories"},
                "color": color,
                "tooltip": tooltip,
            },
        },
        {
            "mark": {"type": "line", "color": BASELINE, "strokeDash": [4, 3], "interpolate": "step-after"},
            "encoding": {"x": x, "y": {"field": "baseline", "type": "quantitative"}},
        },
    ]
    if any(row.is_spike for row in rows):  # a layer with no data would warn of an infinite extent
        layers.append(
            {
                "transform": [{"filter": {"field": "marker", "equal": "spike"}}],
                "mark": {
                    "type": "point",
                    "shape": "triangle-down",
                    "filled": True,
                    "color": SPIKE,
                    "size": 80,
                    "yOffset": -10,
                },
                "encoding": {"x": x, "y": {"field": "stories", "type": "quantitative"}},
            }
        )
    return {
        "$schema": SCHEMA,
        "description": title,
        "width": "container",
        "height": height,
        "data": {"values": trend_values(rows)},
        "layer": layers,
        "config": {"view": {"stroke": None}, "axis": {"labelFontSize": 11}},
    }
