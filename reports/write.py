"""Write the rendered reports under ``$METERR_HOME/reports`` (atomically: temp file + rename).

Layout (from the contract): ``reports/index.html`` lists every week; each week's page is
``reports/weekly/YYYY-Www.html``; ``reports/admin.html`` (platform statistics and integration
health) sits beside the index and is linked from it and from every weekly page. Readers never
see a half-written file: each page is written to a temporary file in the same folder and moved
over the old one with :func:`os.replace`.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from ingest.paths import MeterrHome, meterr_home
from reports.admin import admin_report_data
from reports.data import (
    as_of,
    available_weeks,
    last_complete_week,
    parse_week,
    shift_week,
    weekly_report_data,
    weekly_summaries,
)
from reports.render import render_admin, render_index, render_weekly
from reports.spend import spend_basis

_REPORT_MODE = 0o644


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` so that the file is either the old or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, _REPORT_MODE)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return path


def _home(home: MeterrHome | str | os.PathLike[str]) -> MeterrHome:
    return home if isinstance(home, MeterrHome) else meterr_home(home)


def weekly_path(home: MeterrHome | str | os.PathLike[str], week: str) -> Path:
    """Where the page for ``week`` goes: ``$METERR_HOME/reports/weekly/YYYY-Www.html``."""
    parse_week(week)  # only a valid ISO week may become a file name
    return _home(home).weekly_reports / f"{week}.html"


def _rendered_weeks(home: MeterrHome) -> set[str]:
    found = set()
    for page in home.weekly_reports.glob("*.html"):
        try:
            parse_week(page.stem)
        except ValueError:
            continue
        found.add(page.stem)
    return found


def _write_week(
    con: duckdb.DuckDBPyConnection,
    home: MeterrHome,
    week: str,
    linkable: set[str],
    now: datetime,
) -> Path:
    data: dict[str, Any] = weekly_report_data(con, week, now=now)
    # Link only to neighbours whose page exists (or is being written in the same batch).
    nav = dict(data["nav"])
    for key in ("prev_week", "next_week"):
        if nav[key] not in linkable:
            nav[key] = None
    data["nav"] = nav
    return atomic_write_text(weekly_path(home, week), render_weekly(data))


def write_index(
    con: duckdb.DuckDBPyConnection,
    home: MeterrHome | str | os.PathLike[str],
    *,
    now: datetime | None = None,
) -> Path:
    """(Re)write ``reports/index.html``: every week with usage or a page, newest first."""
    layout = _home(home)
    rendered = _rendered_weeks(layout)
    basis = spend_basis(con)
    summaries = weekly_summaries(con, set(available_weeks(con)) | rendered, basis=basis)
    for row in summaries:
        row["href"] = f"weekly/{row['week']}.html" if row["week"] in rendered else None
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None, microsecond=0)
    html = render_index(
        summaries, generated_at=stamp.isoformat(), as_of=as_of(con), spend_basis=basis.as_dict()
    )
    return atomic_write_text(layout.reports / "index.html", html)


def write_admin(
    con: duckdb.DuckDBPyConnection,
    home: MeterrHome | str | os.PathLike[str],
    *,
    now: datetime | None = None,
) -> Path:
    """(Re)write ``reports/admin.html``: platform statistics, integration health, most used."""
    layout = _home(home)
    rendered = _rendered_weeks(layout)
    latest = max(rendered) if rendered else None
    data = admin_report_data(con, now=now)
    html = render_admin(
        data, index_href="index.html", latest_href=f"weekly/{latest}.html" if latest else None
    )
    return atomic_write_text(layout.reports / "admin.html", html)


def _pointing_at(week: str, weeks_with_usage: list[str]) -> set[str]:
    """The weeks whose page shows something of ``week``: the nearest weeks with usage on each
    side (their earlier/later links skip weeks without usage) and the week after it (its
    comparison with the week before)."""
    earlier = max((w for w in weeks_with_usage if w < week), default=None)
    later = min((w for w in weeks_with_usage if w > week), default=None)
    return {w for w in (earlier, later, shift_week(week, 1)) if w is not None}


def write_reports(
    con: duckdb.DuckDBPyConnection,
    home: MeterrHome | str | os.PathLike[str],
    week: str | None = None,
    today: date | None = None,
    *,
    now: datetime | None = None,
) -> Path:
    """Render ``week`` (default: the last complete ISO week before ``today``), the existing pages
    that point at it (:func:`_pointing_at`), the index and the admin page.

    The neighbours are re-rendered because they point at ``week``: their earlier/later links (a
    new page has no link to it yet) and the next week's comparison with it (a restated week
    changes it). ``today`` defaults to the current UTC date; ``now`` fixes the "generated" stamp.
    Returns the weekly page's path. The warehouse is only read.
    """
    layout = _home(home)
    moment = now or datetime.now(UTC)
    chosen = week or last_complete_week(today or moment.astimezone(UTC).date())
    parse_week(chosen)
    rendered = _rendered_weeks(layout)
    linkable = rendered | {chosen}
    path = _write_week(con, layout, chosen, linkable, moment)
    for neighbour in _pointing_at(chosen, available_weeks(con)) & rendered:
        _write_week(con, layout, neighbour, linkable, moment)
    write_index(con, layout, now=moment)
    write_admin(con, layout, now=moment)
    return path


def write_all_weeks(
    con: duckdb.DuckDBPyConnection,
    home: MeterrHome | str | os.PathLike[str],
    *,
    now: datetime | None = None,
) -> list[Path]:
    """Render every week that has usage, then the index and the admin page.

    Returns the weekly pages, oldest first.
    """
    layout = _home(home)
    moment = now or datetime.now(UTC)
    weeks = available_weeks(con)
    linkable = _rendered_weeks(layout) | set(weeks)
    paths = [_write_week(con, layout, week, linkable, moment) for week in weeks]
    write_index(con, layout, now=moment)
    write_admin(con, layout, now=moment)
    return paths
