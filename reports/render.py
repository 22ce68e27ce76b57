"""Pure renderers: report data (from :mod:`reports.data`) in, a complete HTML page out.

One module-level Jinja2 :class:`~jinja2.Environment` with ``autoescape=True`` (every value from the
data is escaped) and ``StrictUndefined`` (a missing key is an error, not a blank). Templates live in
``reports/templates/``. The only markup not produced by the templates is chart SVG from
:mod:`reports.charts`, which Vega generates from JSON data and which is checked before use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from reports.charts import admin_charts, index_charts, weekly_charts
from reports.formatting import FILTERS

TEMPLATES = Path(__file__).resolve().parent / "templates"

ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENV.filters.update(FILTERS)

# (anchor id, heading) of every section of the weekly page, in page order.
WEEKLY_SECTIONS: tuple[tuple[str, str], ...] = (
    ("spend-by-day", "Spend by day"),
    ("usage-heatmap", "Usage heat map"),
    ("savings-opportunities", "Savings opportunities"),
    ("anomalies", "Anomalies"),
    ("spend-by-provider", "Spend by provider"),
    ("spend-by-model", "Spend by model"),
    ("top-api-keys", "Top API keys"),
    ("top-users", "Top users"),
    ("top-projects", "Top projects"),
    ("my-integrations", "My integrations"),
    ("unpriced-usage", "Unpriced usage"),
    ("monthly-statement", "Monthly statement"),
    ("data-health", "Data health"),
)
# The headline cards of the weekly page (id, label); "total-spend" carries the sparkline.
WEEKLY_CARDS: tuple[tuple[str, str], ...] = (
    ("total-spend", "Total spend"),
    ("savings-potential", "Potential savings"),
    ("anomaly-count", "Anomalies"),
    ("request-count", "Requests"),
    ("token-count", "Tokens"),
    ("unpriced-share", "Unpriced usage"),
)
# (anchor id, heading) of every section of the admin page, in page order.
ADMIN_SECTIONS: tuple[tuple[str, str], ...] = (
    ("platform-statistics", "Platform statistics"),
    ("revenue-by-month", "Spend and platform fee revenue by month"),
    ("integration-health", "Integration health"),
    ("most-used-integrations", "Most used integrations"),
    ("most-used-models", "Most used models"),
    ("integrations-by-provider", "Integrations by provider"),
    ("source-health", "Source health"),
)


def render_weekly(data: dict[str, Any]) -> str:
    """The weekly report page for ``data`` (a :func:`reports.data.weekly_report_data` result).

    Links to the previous/next week use ``data["nav"]``: ``prev_week`` / ``next_week`` are ISO
    weeks whose pages sit beside this one (``None`` = no link).
    """
    template = ENV.get_template("weekly.html.j2")
    return template.render(data=data, charts=weekly_charts(data), sections=WEEKLY_SECTIONS)


def render_index(
    weeks: list[dict[str, Any]],
    *,
    generated_at: str | None = None,
    as_of: dict[str, Any] | None = None,
    spend_basis: dict[str, Any] | None = None,
) -> str:
    """The index page: one row per week (a :func:`reports.data.weekly_summaries` row), newest first.

    A row needs ``week``, ``week_start``, ``week_end``, ``cost_usd``, ``wow_change_usd``,
    ``wow_change_pct``, ``requests``, ``tokens`` and ``unpriced_tokens``; it may carry ``partial``
    and ``href``: the weekly page relative to the index (default ``weekly/YYYY-Www.html``;
    ``None`` lists the week without a link because its page is not rendered). ``as_of``
    (:func:`reports.data.as_of`) stamps each section with the data's freshness; ``spend_basis``
    (:meth:`reports.spend.SpendBasis.as_dict`) adds the note saying which rows the money is
    summed from.
    """
    rows = []
    for week in sorted(weeks, key=lambda row: row["week"], reverse=True):
        row = dict(week)
        row.setdefault("href", f"weekly/{row['week']}.html")
        row.setdefault("partial", False)
        rows.append(row)
    latest = next((row for row in rows if row["href"] is not None), None)
    template = ENV.get_template("index.html.j2")
    return template.render(
        weeks=rows,
        latest=latest,
        charts=index_charts(rows),
        generated_at=generated_at,
        as_of=as_of,
        spend_basis=spend_basis,
    )


def render_admin(
    data: dict[str, Any], *, index_href: str = "index.html", latest_href: str | None = None
) -> str:
    """The admin page for ``data`` (a :func:`reports.admin.admin_report_data` result).

    ``index_href`` / ``latest_href`` link the index and the newest weekly page, relative to the
    admin page (``None`` = no link).
    """
    template = ENV.get_template("admin.html.j2")
    return template.render(
        data=data,
        charts=admin_charts(data),
        sections=ADMIN_SECTIONS,
        index_href=index_href,
        latest_href=latest_href,
    )
