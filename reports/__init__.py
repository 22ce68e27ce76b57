"""meterr reports: weekly static HTML spend and savings reports rendered from the warehouse.

``reports.data`` queries the marts into plain data, ``reports.render`` turns data into HTML with
Jinja2 (templates in ``reports/templates/``), ``reports.charts`` draws Vega-Lite charts as inline
SVG, and ``reports.write`` writes ``$METERR_HOME/reports/index.html`` and
``reports/weekly/YYYY-Www.html``.
"""

from __future__ import annotations

from reports.data import available_weeks, last_complete_week, weekly_report_data
from reports.render import render_index, render_weekly
from reports.write import write_all_weeks, write_index, write_reports

__all__ = [
    "available_weeks",
    "last_complete_week",
    "render_index",
    "render_weekly",
    "weekly_report_data",
    "write_all_weeks",
    "write_index",
    "write_reports",
]
