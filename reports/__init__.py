"""meterr reports: weekly static HTML spend and savings reports rendered from the warehouse.

``reports.data`` queries the marts into plain data (every money figure summed from the spend
basis of ``reports.spend``: the authoritative source per day and provider), ``reports.render``
turns data into HTML with Jinja2 (templates in ``reports/templates/``), ``reports.charts`` draws
Vega-Lite charts as inline SVG, and ``reports.write`` writes ``$METERR_HOME/reports/index.html``,
``reports/admin.html`` and ``reports/weekly/YYYY-Www.html``. ``reports.admin`` holds the admin
page's data and ``reports.browser`` a minimal headless-Chromium driver (tests and
``python -m reports.screenshot``).
"""

from __future__ import annotations

from reports.admin import admin_report_data
from reports.data import available_weeks, last_complete_week, weekly_report_data
from reports.render import render_admin, render_index, render_weekly
from reports.write import write_admin, write_all_weeks, write_index, write_reports

__all__ = [
    "admin_report_data",
    "available_weeks",
    "last_complete_week",
    "render_admin",
    "render_index",
    "render_weekly",
    "weekly_report_data",
    "write_admin",
    "write_all_weeks",
    "write_index",
    "write_reports",
]
