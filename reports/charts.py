"""Report charts: Vega-Lite specs built as dicts, rendered to inline SVG by vl-convert.

vl-convert bundles Vega and Vega-Lite and renders without a browser or network, so the SVG is
static markup: the report needs no JavaScript and opens offline.

Theming: the specs draw on a transparent background with neutral default colours; the page's
stylesheet recolours text, axes, grid and marks through Vega's SVG class names (``role-axis-label``,
``mark-rect`` ...) and CSS variables, so one SVG follows the page's light or dark scheme. CSS rules
beat SVG presentation attributes, which is what Vega writes.

Safety: data reaches Vega only as JSON values (never as expressions or field names), and Vega
escapes text it writes into SVG. The output is still checked against an allow-list of elements and
attributes before it is marked safe for the template; a chart that fails the check is dropped.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from typing import Any

import vl_convert
from markupsafe import Markup

from reports.formatting import compact, day_label, money, short_day_label

log = logging.getLogger(__name__)

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
# Defaults for a standalone SVG; inside the report the stylesheet overrides them per scheme.
ACCENT = "#3b6fd8"
MUTED = "#6b7480"
GRID = "#e4e7eb"
FONT = "sans-serif"
CHART_WIDTH = 600
# The daily and 13-week charts sit side by side on wide screens.
HALF_WIDTH = 460
# The model chart lists this many models; the table below it lists all.
MODEL_CHART_LIMIT = 10

_SVG_NS = "{http://www.w3.org/2000/svg}"
# Everything Vega's SVG renderer emits for the marks used here (and a little more).
_ALLOWED_ELEMENTS = frozenset(
    {
        "svg", "g", "path", "rect", "line", "circle", "ellipse", "polygon", "polyline",
        "text", "tspan", "title", "desc", "defs", "clipPath", "linearGradient",
        "radialGradient", "stop",
    }
)  # fmt: skip
_ALLOWED_ATTRIBUTES = frozenset(
    {
        "class", "id", "role", "aria-label", "aria-roledescription", "aria-hidden",
        "transform", "d", "x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "rx", "ry",
        "width", "height", "viewBox", "version", "points", "offset",
        "fill", "fill-opacity", "stroke", "stroke-width", "stroke-opacity", "stroke-dasharray",
        "stroke-dashoffset", "stroke-linecap", "stroke-linejoin", "stroke-miterlimit",
        "opacity", "display", "visibility", "pointer-events", "clip-path", "shape-rendering",
        "text-anchor", "dominant-baseline", "font-family", "font-size", "font-weight",
        "font-style", "font-variant", "letter-spacing", "dx", "dy", "gradientUnits",
        "stop-color", "stop-opacity",
    }
)  # fmt: skip
_XMLNS = re.compile(r'\s+xmlns(?::xlink)?="[^"]*"')
_ID_ATTR = re.compile(r'\bid="([^"]+)"')
_URL_REF = re.compile(r"url\(#([^)]+)\)")

_BASE_CONFIG: dict[str, Any] = {
    "font": FONT,
    "view": {"stroke": None},
    "axis": {
        "labelColor": MUTED,
        "titleColor": MUTED,
        "gridColor": GRID,
        "domainColor": GRID,
        "tickColor": GRID,
        "labelFontSize": 11,
        "titleFontSize": 11,
        "titleFontWeight": "normal",
        "labelPadding": 4,
    },
    "bar": {"color": ACCENT},
    "line": {"color": ACCENT},
    "area": {"color": ACCENT},
    "point": {"color": ACCENT, "filled": True},
}


class UnsafeChartError(ValueError):
    """vl-convert produced SVG with an element or attribute outside the allow-list."""


def _spec(**parts: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "$schema": VEGA_LITE_SCHEMA,
        # Transparent: the page's card colour shows through in both schemes.
        "background": None,
        "config": _BASE_CONFIG,
    }
    spec.update(parts)
    return spec


def _money_format(values: list[float]) -> str:
    """A d3 format for a money axis whose largest value is ``max(values)``."""
    top = max((abs(v) for v in values), default=0.0)
    if top >= 100:
        return "$,.0f"
    if top >= 1:
        return "$,.2~f"
    return "$,.4~f"


def _category_x(field: str, *, padding: float | None = 0.3, label_angle: int = 0) -> dict:
    """An ordinal x axis in data order, without ticks or domain line (every bar chart here)."""
    encoding: dict[str, Any] = {
        "field": field,
        "type": "ordinal",
        "sort": None,
        "title": None,
        "axis": {"labelAngle": label_angle, "ticks": False, "domain": False},
    }
    if padding is not None:
        encoding["scale"] = {"paddingInner": padding}
    return encoding


def _money_y(values: list[dict[str, Any]], *, tick_count: int) -> dict:
    """A dollar y axis over ``values[*]["cost_usd"]``, formatted for their magnitude."""
    return {
        "field": "cost_usd",
        "type": "quantitative",
        "title": None,
        "axis": {
            "format": _money_format([v["cost_usd"] for v in values]),
            "tickCount": tick_count,
            "domain": False,
            "ticks": False,
        },
    }


def daily_spend_spec(daily: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars of priced spend per day of the report week (``data["daily"]``)."""
    values = [
        {"day": short_day_label(row["date"]), "cost_usd": row["cost_usd"] or 0.0} for row in daily
    ]
    return _spec(
        description="Spend per day",
        width=HALF_WIDTH,
        height=180,
        data={"values": values},
        mark={"type": "bar", "cornerRadiusEnd": 2},
        encoding={
            "x": _category_x("day"),
            "y": _money_y(values, tick_count=4),
        },
    )


def model_spend_spec(by_model: list[dict[str, Any]]) -> dict[str, Any]:
    """Horizontal bars of priced spend for the most expensive models (``data["by_model"]``).

    Each bar is labelled with its cost, formatted here (labels are data, never Vega expressions).
    """
    priced = [row for row in by_model if row["cost_usd"]][:MODEL_CHART_LIMIT]
    values = [
        {"model": row["label"], "cost_usd": row["cost_usd"], "cost_label": money(row["cost_usd"])}
        for row in priced
    ]
    y = {
        "field": "model",
        "type": "nominal",
        "sort": None,
        "title": None,
        "axis": {"labelLimit": 190, "ticks": False, "domain": False},
    }
    x = {
        "field": "cost_usd",
        "type": "quantitative",
        "title": None,
        "axis": {
            "format": _money_format([v["cost_usd"] for v in values]),
            "tickCount": 4,
            "domain": False,
            "ticks": False,
        },
    }
    return _spec(
        description="Spend by model",
        width=CHART_WIDTH - 260,
        height={"step": 22},
        data={"values": values},
        encoding={"y": y, "x": x},
        layer=[
            {"mark": {"type": "bar", "cornerRadiusEnd": 2}},
            {
                "mark": {"type": "text", "align": "left", "baseline": "middle", "dx": 4},
                "encoding": {"text": {"field": "cost_label", "type": "nominal"}},
            },
        ],
    )


def weekly_trend_spec(weekly_trend: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars of weekly spend over 13 weeks, the report week at full strength, others faded."""
    values = [
        {
            "week": row["week"][-3:],
            "cost_usd": row["cost_usd"] or 0.0,
            "current": bool(row["is_report_week"]),
        }
        for row in weekly_trend
    ]
    return _spec(
        description="Weekly spend, last 13 weeks",
        width=HALF_WIDTH,
        height=140,
        data={"values": values},
        mark={"type": "bar", "cornerRadiusEnd": 2},
        encoding={
            "x": _category_x("week"),
            "y": _money_y(values, tick_count=3),
            # Opacity, not colour, marks the current week, so the CSS accent applies to all bars.
            "opacity": {
                "field": "current",
                "type": "nominal",
                "scale": {"domain": [False, True], "range": [0.45, 1]},
                "legend": None,
            },
        },
    )


def sparkline_spec(history: list[dict[str, Any]]) -> dict[str, Any]:
    """A small axis-less line of daily spend over 13 weeks (``data["daily_history"]``)."""
    values = [{"date": row["date"], "cost_usd": row["cost_usd"] or 0.0} for row in history]
    encoding = {
        "x": {"field": "date", "type": "temporal", "axis": None},
        "y": {"field": "cost_usd", "type": "quantitative", "axis": None},
    }
    return _spec(
        description="Daily spend, last 13 weeks",
        width=220,
        height=44,
        padding=2,
        data={"values": values},
        layer=[
            {"mark": {"type": "area", "opacity": 0.18}, "encoding": encoding},
            {"mark": {"type": "line", "strokeWidth": 1.5}, "encoding": encoding},
        ],
    )


# Empty days stay visible as faint cells; the busiest day is at full strength.
HEATMAP_MIN_OPACITY = 0.07
HEATMAP_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def heatmap_spec(heatmap: dict[str, Any]) -> dict[str, Any]:
    """A weekday x week grid of rect marks over 13 weeks (``data["heatmap"]``).

    The value is shown by opacity, not colour, so the page's accent colour applies in both colour
    schemes (the stylesheet recolours every rect). Each cell's accessible description is
    formatted here, e.g. ``Tue 14 Jan: $12.30``.
    """
    is_money = heatmap["metric"] == "cost_usd"
    top = max((cell["value"] for cell in heatmap["cells"]), default=0) or 1
    values = []
    for cell in heatmap["cells"]:
        amount = money(cell["value"]) if is_money else f"{compact(cell['value'])} tokens"
        if not cell["has_usage"]:
            amount = "no usage"
        values.append(
            {
                "week": cell["week"][-3:],
                "weekday": cell["weekday"],
                "value": cell["value"],
                "label": f"{day_label(cell['date'])}: {amount}",
            }
        )
    axis = {"ticks": False, "domain": False, "labelAngle": 0}
    return _spec(
        description="Daily usage heat map, last 13 weeks",
        width={"step": 38},
        height={"step": 22},
        data={"values": values},
        mark={"type": "rect"},
        encoding={
            "x": {
                "field": "week",
                "type": "ordinal",
                "sort": None,
                "title": None,
                "axis": axis,
                "scale": {"paddingInner": 0.14},
            },
            "y": {
                "field": "weekday",
                "type": "ordinal",
                "sort": HEATMAP_WEEKDAYS,
                "title": None,
                "axis": axis,
                "scale": {"paddingInner": 0.14},
            },
            "opacity": {
                "field": "value",
                "type": "quantitative",
                # sqrt: one spike should not wash every ordinary day out to nothing.
                "scale": {"type": "sqrt", "domain": [0, top], "range": [HEATMAP_MIN_OPACITY, 1]},
                "legend": None,
            },
            "description": {"field": "label", "type": "nominal"},
        },
    )


def monthly_spend_spec(months: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars of spend per month with the platform fee revenue labelled (the admin page)."""
    values = [
        {
            "month": row["month"],
            "cost_usd": row["cost_usd"] or 0.0,
            "fee_label": f"fee {money(row['platform_fee_usd'])}",
        }
        for row in months
    ]
    return _spec(
        description="Spend per month",
        width=CHART_WIDTH,
        height=150,
        data={"values": values},
        encoding={
            "x": _category_x("month", padding=0.35),
            "y": _money_y(values, tick_count=3),
        },
        layer=[
            {"mark": {"type": "bar", "cornerRadiusEnd": 2}},
            {
                "mark": {"type": "text", "baseline": "bottom", "dy": -3},
                "encoding": {"text": {"field": "fee_label", "type": "nominal"}},
            },
        ],
    )


def weekly_index_spec(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars of weekly spend across the weeks listed on the index (newest 26)."""
    recent = sorted(summaries, key=lambda row: row["week"])[-26:]
    values = [{"week": row["week"], "cost_usd": row["cost_usd"] or 0.0} for row in recent]
    return _spec(
        description="Weekly spend",
        width=CHART_WIDTH,
        height=140,
        data={"values": values},
        mark={"type": "bar", "cornerRadiusEnd": 2},
        encoding={
            "x": _category_x("week", padding=None, label_angle=-45),
            "y": _money_y(values, tick_count=3),
        },
    )


def check_svg(svg: str) -> None:
    """Raise :class:`UnsafeChartError` unless every element and attribute is on the allow-list."""
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as exc:
        raise UnsafeChartError(f"chart SVG is not well-formed: {exc}") from exc
    for element in root.iter():
        tag = element.tag.removeprefix(_SVG_NS)
        if tag not in _ALLOWED_ELEMENTS:
            raise UnsafeChartError(f"chart SVG has a disallowed element <{tag}>")
        for name, value in element.attrib.items():
            if name not in _ALLOWED_ATTRIBUTES:
                raise UnsafeChartError(f"chart SVG has a disallowed attribute {name!r}")
            if "url(" in value and not _URL_REF.fullmatch(value.strip()):
                raise UnsafeChartError(f"chart SVG references something outside itself: {value!r}")


def to_svg(spec: dict[str, Any], chart_id: str) -> Markup:
    """Render ``spec`` to SVG markup for inline use in the page (checked, ids made unique).

    ``chart_id`` prefixes every id in the SVG so that two charts on one page (clip paths,
    gradients) never collide. The ``xmlns`` declarations are dropped: HTML puts an inline ``<svg>``
    in the SVG namespace by itself, and the page then has no URL in it at all.
    """
    # allowed_base_urls=[]: the specs carry inline data only; never let Vega fetch anything.
    svg = vl_convert.vegalite_to_svg(spec, allowed_base_urls=[])
    check_svg(svg)
    svg = _ID_ATTR.sub(lambda m: f'id="{chart_id}-{m.group(1)}"', svg)
    svg = _URL_REF.sub(lambda m: f"url(#{chart_id}-{m.group(1)})", svg)
    svg = _XMLNS.sub("", svg, count=2)
    svg = svg.replace('class="marks"', f'class="marks chart-{chart_id}"', 1)
    # Generated by Vega from JSON data (text escaped by Vega) and checked above.
    return Markup(svg)


def render_chart(spec: dict[str, Any], chart_id: str) -> Markup | None:
    """:func:`to_svg`, or ``None`` (the page says the chart is unavailable) if rendering fails."""
    try:
        return to_svg(spec, chart_id)
    except Exception as exc:  # a chart must never take the whole report down
        log.warning("chart %s was not rendered: %s", chart_id, exc)
        return None


def weekly_charts(data: dict[str, Any]) -> dict[str, Markup | None]:
    """The weekly report's charts as inline SVG: ``daily``, ``models``, ``trend``, ``sparkline``,
    ``heatmap``.

    A chart with nothing to show is ``None``.
    """
    has_daily = any(row["cost_usd"] for row in data["daily"])
    has_models = any(row["cost_usd"] for row in data["by_model"])
    has_trend = any(row["cost_usd"] for row in data["weekly_trend"])
    return {
        "daily": render_chart(daily_spend_spec(data["daily"]), "daily") if has_daily else None,
        "models": render_chart(model_spend_spec(data["by_model"]), "models")
        if has_models
        else None,
        "trend": render_chart(weekly_trend_spec(data["weekly_trend"]), "trend")
        if has_trend
        else None,
        "sparkline": render_chart(sparkline_spec(data["daily_history"]), "spark")
        if has_trend
        else None,
        "heatmap": render_chart(heatmap_spec(data["heatmap"]), "heatmap")
        if data["heatmap"]["has_data"]
        else None,
    }


def admin_charts(data: dict[str, Any]) -> dict[str, Markup | None]:
    """The admin page's chart: ``months`` (spend per month; ``None`` without any spend)."""
    months = data["revenue_by_month"]
    if not any(row["cost_usd"] for row in months):
        return {"months": None}
    return {"months": render_chart(monthly_spend_spec(months), "months")}


def index_charts(summaries: list[dict[str, Any]]) -> dict[str, Markup | None]:
    """The index page's chart: ``weekly`` spend across weeks (``None`` without any spend)."""
    if not any(row["cost_usd"] for row in summaries):
        return {"weekly": None}
    return {"weekly": render_chart(weekly_index_spec(summaries), "weekly")}
