"""The weekly report: data queried from a fixture warehouse, rendered HTML, files on disk.

The fixture warehouse is built directly with SQL in the contract's shapes (``marts.fct_usage_daily``
and ``meta.ingested_files``; the optional marts only where a test adds them). It holds four ISO
weeks around New Year 2025 (2024-W52 .. 2025-W03) with priced and unpriced usage and hostile
strings, so expected totals are computed here from the same rows, independently of the report code.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingest import check_log
from ingest.paths import meterr_home
from reports import (
    admin_report_data,
    available_weeks,
    last_complete_week,
    render_admin,
    render_index,
    render_weekly,
    weekly_report_data,
    write_all_weeks,
    write_reports,
)
from reports.charts import UnsafeChartError, check_svg, daily_spend_spec, to_svg
from reports.data import ReportDataError, parse_week, weekly_summaries
from reports.formatting import cell, compact, money, money_signed, pct, pct_signed, rate
from reports.render import ADMIN_SECTIONS, TEMPLATES, WEEKLY_CARDS, WEEKLY_SECTIONS

WEEK = "2025-W03"  # Mon 2025-01-13 .. Sun 2025-01-19
PREV = "2025-W02"
HOSTILE_MODEL = "<script>alert(1)</script>"
HOSTILE_USER = "\"'&<>"
UNPRICED_MODEL = "mystery-model-x"
NOW = datetime(2025, 1, 21, 9, 30, tzinfo=UTC)

USAGE_DDL = """
CREATE TABLE marts.fct_usage_daily (
    usage_date DATE, source VARCHAR, provider VARCHAR, model VARCHAR, project_id VARCHAR,
    api_key_id VARCHAR, user_id VARCHAR, integration_id VARCHAR, request_count BIGINT,
    input_tokens BIGINT, cached_input_tokens BIGINT, cache_write_tokens BIGINT,
    output_tokens BIGINT, list_cost_usd DECIMAL(18,6), billed_cost_usd DECIMAL(18,6),
    platform_fee_usd DECIMAL(18,6), total_cost_usd DECIMAL(18,6)
)
"""
LEDGER_DDL = """
CREATE TABLE meta.ingested_files (
    file_sha256 VARCHAR, file_name VARCHAR, format VARCHAR, status VARCHAR, row_count BIGINT,
    reason VARCHAR, ingested_at TIMESTAMP
)
"""


def _usage_rows() -> list[dict]:
    """Daily rows from 2024-12-23 (2024-W52) to 2025-01-19 (2025-W03)."""
    rows = []
    day = date(2024, 12, 23)
    i = 0
    while day <= date(2025, 1, 19):
        i += 1
        # gpt-4o: priced, grows week over week; billed cost reported by the API.
        cost = Decimal("10.5") + Decimal(i) * Decimal("0.25")
        rows.append(
            dict(usage_date=day, source="openai_api", provider="openai", model="gpt-4o",
                 api_key_id="key-prod", user_id="alice", request_count=100 + i,
                 input_tokens=50_000 + i, cached_input_tokens=5_000, cache_write_tokens=0,
                 output_tokens=8_000 + i, list_cost=cost, billed=cost, fee=Decimal("0.5"),
                 total=cost + Decimal("0.5"))
        )  # fmt: skip
        # claude: priced from an export, no billed cost, unattributed key.
        cost = Decimal("3.141592")
        rows.append(
            dict(usage_date=day, source="anthropic_export", provider="anthropic",
                 model="claude-sonnet-4", api_key_id=None, user_id=HOSTILE_USER,
                 request_count=40, input_tokens=20_000, cached_input_tokens=1_000,
                 cache_write_tokens=500, output_tokens=4_000, list_cost=cost, billed=None,
                 fee=Decimal("0"), total=cost)
        )  # fmt: skip
        if day >= date(2025, 1, 13):
            # The report week only: a hostile model name (priced) and an unpriced model.
            rows.append(
                dict(usage_date=day, source="custom", provider="openai", model=HOSTILE_MODEL,
                     api_key_id="key-<b>", user_id=None, request_count=3, input_tokens=900,
                     cached_input_tokens=0, cache_write_tokens=0, output_tokens=100,
                     list_cost=Decimal("0.0042"), billed=None, fee=Decimal("0"),
                     total=Decimal("0.0042"))
            )  # fmt: skip
            rows.append(
                dict(usage_date=day, source="custom", provider="mistral", model=UNPRICED_MODEL,
                     api_key_id="key-prod", user_id="bob", request_count=7, input_tokens=1_200,
                     cached_input_tokens=0, cache_write_tokens=0, output_tokens=300,
                     list_cost=None, billed=None, fee=None, total=None)
            )  # fmt: skip
        day += timedelta(days=1)
    return rows


ROWS = _usage_rows()


def _tokens(row: dict) -> int:
    return (
        row["input_tokens"]
        + row["cached_input_tokens"]
        + row["cache_write_tokens"]
        + row["output_tokens"]
    )


def _in_week(row: dict, week: str) -> bool:
    start, end = parse_week(week)
    return start <= row["usage_date"] <= end


def _week_cost(week: str) -> Decimal:
    return sum(
        (r["total"] for r in ROWS if _in_week(r, week) and r["total"] is not None), Decimal(0)
    )


def build_warehouse(path: Path, *, ledger: bool = True) -> Path:
    """A warehouse file with the usage fixture (and the file ledger unless ``ledger=False``)."""
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE SCHEMA meta")
    con.execute(USAGE_DDL)
    con.executemany(
        "INSERT INTO marts.fct_usage_daily VALUES (?, ?, ?, ?, NULL, ?, ?, NULL, ?, ?, ?, ?, ?, ?,"
        " ?, ?, ?)",
        [
            [
                r["usage_date"], r["source"], r["provider"], r["model"], r["api_key_id"],
                r["user_id"], r["request_count"], r["input_tokens"], r["cached_input_tokens"],
                r["cache_write_tokens"], r["output_tokens"], r["list_cost"], r["billed"],
                r["fee"], r["total"],
            ]
            for r in ROWS
        ],
    )  # fmt: skip
    if ledger:
        con.execute(LEDGER_DDL)
        con.executemany(
            "INSERT INTO meta.ingested_files VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                ["a" * 64, "openai-jan.csv", "openai_export", "loaded", 120, None,
                 datetime(2025, 1, 14, 8, 0)],
                ["b" * 64, "openai-jan-copy.csv", "openai_export", "duplicate", 0, None,
                 datetime(2025, 1, 15, 8, 0)],
                ["c" * 64, "broken <x>.csv", None, "quarantined", None,
                 "missing column 'model' & <bad> header", datetime(2025, 1, 16, 9, 0)],
                ["d" * 64, "old.json", "custom", "loaded", 30, None, datetime(2024, 12, 20, 7, 0)],
            ],
        )  # fmt: skip
    con.close()
    return path


def add_optional_marts(path: Path) -> None:
    """The marts later issues add, with a row each (one hostile) dated in the report week."""
    con = duckdb.connect(str(path))
    con.execute(
        """
        CREATE TABLE marts.anomalies AS SELECT * FROM (VALUES
            ('an-1', DATE '2025-01-15', 'model', 'gpt-4o', 'cost_usd', 25.0, 12.0, 4.2, 'high',
             'Spend on <i>gpt-4o</i> doubled'),
            ('an-2', DATE '2025-01-02', 'user', 'alice', 'cost_usd', 9.0, 3.0, 3.0, 'low',
             'outside the report week')
        ) AS t(anomaly_id, usage_date, scope, scope_value, metric, observed, expected, score,
               severity, explanation)
        """
    )
    con.execute(
        """
        CREATE TABLE marts.savings_opportunities AS SELECT * FROM (VALUES
            ('op-1', 'model_switch', 'model', 'gpt-4o', 480.0, 312.5, 0.8,
             'Move classification traffic from gpt-4o to gpt-4o-mini'),
            ('op-2', 'prompt_caching', 'api_key', 'key-prod', 120.0, 40.25, 0.6,
             'Enable prompt caching')
        ) AS t(opportunity_id, kind, scope, scope_value, current_monthly_cost_usd,
               estimated_monthly_savings_usd, confidence, action)
        """
    )
    con.execute(
        """
        CREATE TABLE marts.monthly_statement AS SELECT * FROM (VALUES
            (DATE '2025-01-01', 'alice', 'int-1', 'openai', 200.0, 10.0, 210.0),
            (DATE '2025-01-01', NULL, NULL, 'anthropic', 60.0, 0.0, 60.0),
            (DATE '2024-12-01', 'alice', 'int-1', 'openai', 99.0, 1.0, 100.0)
        ) AS t(month, user_id, integration_id, provider, provider_cost_usd, platform_fee_usd,
               total_usd)
        """
    )
    con.close()


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return build_warehouse(tmp_path / "warehouse.duckdb")


@pytest.fixture
def con(warehouse: Path):
    """A read-only connection: the report must never need to write."""
    connection = duckdb.connect(str(warehouse), read_only=True)
    yield connection
    connection.close()


@pytest.fixture
def report(con) -> tuple[dict, str]:
    data = weekly_report_data(con, WEEK, now=NOW)
    return data, render_weekly(data)


def _svgs(html: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", html, flags=re.S)


# ---------------------------------------------------------------------------------------------
# Data


def test_totals_and_week_over_week_match_the_fixture(report) -> None:
    data, html = report
    total, prev = _week_cost(WEEK), _week_cost(PREV)
    assert data["totals"]["cost_usd"] == pytest.approx(float(total))
    assert data["totals"]["prev_cost_usd"] == pytest.approx(float(prev))
    week_rows = [r for r in ROWS if _in_week(r, WEEK)]
    assert data["totals"]["requests"] == sum(r["request_count"] for r in week_rows)
    assert data["totals"]["tokens"] == sum(_tokens(r) for r in week_rows)

    change = total - prev
    assert change > 0
    assert f"${total:,.2f}" in html
    assert f"+${change:,.2f}" in html
    assert f"+{change / prev * 100:.1f}%" in html


def test_every_section_heading_is_on_the_page(report) -> None:
    _, html = report
    for anchor, heading in WEEKLY_SECTIONS:
        assert f'<section id="{anchor}">' in html
        assert f"<h2>{heading}</h2>" in html


def test_unpriced_usage_is_counted_apart_and_never_as_zero(report) -> None:
    data, html = report
    unpriced_rows = [r for r in ROWS if _in_week(r, WEEK) and r["total"] is None]
    tokens = sum(_tokens(r) for r in unpriced_rows)
    assert data["unpriced"]["tokens"] == tokens
    assert data["unpriced"]["requests"] == sum(r["request_count"] for r in unpriced_rows)
    [row] = data["unpriced"]["by_model"]
    assert (row["model"], row["tokens"], row["sources"]) == (UNPRICED_MODEL, tokens, ["custom"])
    model = next(m for m in data["by_model"] if m["model"] == UNPRICED_MODEL)
    assert model["cost_usd"] is None and model["fully_unpriced"]
    provider = next(p for p in data["by_provider"] if p["provider"] == "mistral")
    assert provider["cost_usd"] is None
    # On the page the model's spend reads "unpriced", never $0.
    model_row = re.search(rf"<tr>\s*<td[^>]*>{UNPRICED_MODEL}</td>.*?</tr>", html, flags=re.S)
    assert model_row and "unpriced" in model_row.group(0) and "$0.00" not in model_row.group(0)
    share = tokens / data["totals"]["tokens"]
    assert pct(share) in html


def test_breakdowns_by_provider_model_key_and_user(report) -> None:
    data, html = report
    assert [p["provider"] for p in data["by_provider"]] == ["openai", "anthropic", "mistral"]
    gpt = next(m for m in data["by_model"] if m["model"] == "gpt-4o")
    gpt_rows = [r for r in ROWS if _in_week(r, WEEK) and r["model"] == "gpt-4o"]
    assert gpt["cost_usd"] == pytest.approx(float(sum(r["total"] for r in gpt_rows)))
    assert gpt["output_tokens"] == sum(r["output_tokens"] for r in gpt_rows)
    assert gpt["requests"] == sum(r["request_count"] for r in gpt_rows)

    keys = {row["label"]: row for row in data["top_api_keys"]["rows"]}
    assert set(keys) == {"key-prod", "(unattributed)", "key-<b>"}
    assert keys["(unattributed)"]["key"] is None and not keys["(unattributed)"]["attributed"]
    users = [row["label"] for row in data["top_users"]["rows"]]
    assert users[0] == "alice" and "(unattributed)" in users and HOSTILE_USER in users
    assert "(unattributed)" in html


def test_daily_series_and_13_week_trend(report) -> None:
    data, _ = report
    assert [d["date"] for d in data["daily"]] == [
        (date(2025, 1, 13) + timedelta(days=n)).isoformat() for n in range(7)
    ]
    assert len(data["daily_history"]) == 91
    assert data["daily_history"][0]["date"] == "2024-10-21"
    trend = data["weekly_trend"]
    assert len(trend) == 13 and trend[-1]["week"] == WEEK and trend[-1]["is_report_week"]
    assert trend[-1]["cost_usd"] == pytest.approx(float(_week_cost(WEEK)))
    assert trend[-4]["week"] == "2024-W52"
    assert trend[-4]["cost_usd"] == pytest.approx(float(_week_cost("2024-W52")))
    assert trend[0]["cost_usd"] == 0.0  # before the data starts: no usage, so $0


def test_as_of_and_generated_at(report) -> None:
    data, html = report
    # The newest ledger rows are a duplicate and a quarantined file: neither made the data newer.
    assert data["as_of"] == {
        "usage_date": "2025-01-19",
        "ingested_at": "2025-01-14T08:00:00",
        "loaded_at": "2025-01-14T08:00:00",
    }
    assert data["generated_at"] == "2025-01-21T09:30:00"
    assert "19 Jan 2025" in html and "2025-01-21 09:30 UTC" in html


def test_available_weeks_and_summaries(con) -> None:
    assert available_weeks(con) == ["2024-W52", "2025-W01", "2025-W02", WEEK]
    summaries = weekly_summaries(con)
    assert [s["week"] for s in summaries] == [WEEK, "2025-W02", "2025-W01", "2024-W52"]
    assert summaries[0]["cost_usd"] == pytest.approx(float(_week_cost(WEEK)))
    assert summaries[-1]["wow_change_pct"] is None  # nothing the week before the first one


def test_data_health_lists_quarantined_files_and_sources(report) -> None:
    data, html = report
    health = data["data_health"]
    assert health["week_files"] == {
        "loaded": 1,
        "duplicate": 1,
        "quarantined": 1,
        "rows_loaded": 120,
    }
    assert [q["file_name"] for q in health["quarantined"]] == ["broken <x>.csv"]
    sources = {s["source"]: s for s in health["sources"]}
    assert sources["openai_api"]["last_usage_date"] == "2025-01-19"
    assert sources["custom"]["first_usage_date"] == "2025-01-13"
    assert "missing column &#39;model&#39; &amp; &lt;bad&gt; header" in html
    assert "broken &lt;x&gt;.csv" in html


def test_optional_marts_missing_say_nothing_yet(report) -> None:
    data, html = report
    for key in ("anomalies", "savings", "monthly_statement"):
        assert data[key]["available"] is False
    assert html.count("Nothing yet") == 3


def test_optional_marts_present_are_shown(warehouse: Path) -> None:
    add_optional_marts(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        data = weekly_report_data(con, WEEK, now=NOW)
    html = render_weekly(data)
    assert [a["anomaly_id"] for a in data["anomalies"]["rows"]] == ["an-1"]
    assert data["savings"]["total_monthly_savings_usd"] == pytest.approx(352.75)
    [month] = data["monthly_statement"]["months"]
    assert (month["month"], month["total_usd"]) == ("2025-01", 270.0)
    assert "Nothing yet" not in html
    assert "$352.75" in html and "Move classification traffic" in html
    assert "Spend on &lt;i&gt;gpt-4o&lt;/i&gt; doubled" in html
    assert "<i>" not in html


def test_missing_ledger_is_not_an_error(tmp_path: Path) -> None:
    path = build_warehouse(tmp_path / "w.duckdb", ledger=False)
    with duckdb.connect(str(path), read_only=True) as con:
        data = weekly_report_data(con, WEEK, now=NOW)
    assert data["data_health"]["ledger_available"] is False
    assert data["as_of"]["ingested_at"] is None
    assert "Data health" in render_weekly(data)


def test_missing_usage_mart_raises_a_clear_error(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "empty.duckdb")) as con:
        with pytest.raises(ReportDataError, match="fct_usage_daily"):
            weekly_report_data(con, WEEK)


def test_week_without_usage_renders_with_a_notice(con) -> None:
    data = weekly_report_data(con, "2025-W10", now=NOW)
    assert data["has_usage"] is False and data["totals"]["cost_usd"] == 0.0
    html = render_weekly(data)
    assert "No usage was recorded in week 2025-W10" in html
    assert "The newest week with usage is 2025-W03" in html


# ---------------------------------------------------------------------------------------------
# Safety and self-containedness


def test_hostile_strings_are_escaped_everywhere(report) -> None:
    _, html = report
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    assert "&#34;&#39;&amp;&lt;&gt;" in html  # the user id, escaped by Jinja
    assert HOSTILE_USER not in html
    assert "key-&lt;b&gt;" in html and "<b>" not in html
    # The model chart carries the hostile name too, as escaped SVG text.
    svgs = _svgs(html)
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in svg for svg in svgs)


def test_page_is_self_contained(report) -> None:
    _, html = report
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:[a-z]+:)?//""", html, flags=re.I)
    assert "http://" not in html and "https://" not in html
    for tag in ("<script", "<link", "<img", "<iframe", "@import", "@font-face"):
        assert tag not in html.lower()
    assert not re.search(r"url\((?!#)", html)  # only references inside the page's own SVG
    assert "prefers-color-scheme: dark" in html
    assert '<meta name="viewport"' in html


def test_charts_are_inline_svg_themed_by_the_page(report) -> None:
    _, html = report
    svgs = _svgs(html)
    assert len(svgs) == 5  # sparkline, daily, 13-week trend, heat map, models
    texts = 0
    for svg in svgs:
        root = ET.fromstring(svg)
        parents = {child: parent for parent in root.iter() for child in parent}
        # Transparent: nothing paints a light background behind the marks.
        assert "background" not in root.attrib.get("style", "")
        for element in root.iter():
            if "background" in element.attrib.get("class", ""):
                assert element.attrib.get("fill", "none") == "none"
        # Every piece of text sits in a group the stylesheet recolours for the colour scheme.
        for text in root.iter("text"):
            classes, node = "", text
            while node in parents:
                node = parents[node]
                classes += " " + node.attrib.get("class", "")
            assert re.search(r"role-axis-(label|title)|mark-text role-mark", classes), classes
            texts += 1
    assert texts > 20
    css = (TEMPLATES / "style.css").read_text()
    for selector in (
        ".role-axis-label text",
        ".mark-text.role-mark text",
        ".role-axis-grid line",
        ".mark-rect path",
    ):
        assert selector in css
    dark = css[css.index("prefers-color-scheme: dark") :]
    assert "--accent" in dark and "--muted" in dark and "--grid" in dark


def test_ids_inside_charts_are_unique_per_chart() -> None:
    spec = daily_spend_spec([{"date": f"2025-01-{13 + n}", "cost_usd": float(n)} for n in range(7)])
    spec["mark"] = {"type": "bar", "clip": True}
    first, second = str(to_svg(spec, "one")), str(to_svg(spec, "two"))
    ids = re.findall(r'id="([^"]+)"', first + second)
    assert len(ids) == len(set(ids))


def test_check_svg_rejects_scripts_and_handlers() -> None:
    ns = 'xmlns="http://www.w3.org/2000/svg"'
    with pytest.raises(UnsafeChartError):
        check_svg(f"<svg {ns}><script>alert(1)</script></svg>")
    with pytest.raises(UnsafeChartError):
        check_svg(f'<svg {ns}><g onload="alert(1)"/></svg>')
    with pytest.raises(UnsafeChartError):
        check_svg(f'<svg {ns}><path fill="url(https://x.example/a.svg#p)"/></svg>')
    check_svg(f'<svg {ns}><g class="x"><text fill="#000">&lt;script&gt;</text></g></svg>')


# ---------------------------------------------------------------------------------------------
# Files


def test_write_reports_writes_weekly_page_and_index(con, tmp_path: Path) -> None:
    home = meterr_home(tmp_path / "home")
    path = write_reports(con, home, week=WEEK, now=NOW)
    assert path == tmp_path / "home" / "reports" / "weekly" / f"{WEEK}.html"
    index = tmp_path / "home" / "reports" / "index.html"
    assert path.is_file() and index.is_file()
    index_html = index.read_text(encoding="utf-8")
    assert f'href="weekly/{WEEK}.html"' in index_html
    assert f"${_week_cost(WEEK):,.2f}" in index_html
    # Weeks with usage but no page yet are listed without a link.
    assert 'href="weekly/2025-W02.html"' not in index_html and "2025-W02" in index_html
    weekly_html = path.read_text(encoding="utf-8")
    assert 'href="../index.html"' in weekly_html
    assert not list(path.parent.glob(".*.tmp"))


def test_write_reports_defaults_to_the_last_complete_week(con, tmp_path: Path) -> None:
    path = write_reports(con, tmp_path / "home", today=date(2025, 1, 22), now=NOW)
    assert path.name == f"{WEEK}.html"


def test_write_all_weeks_links_every_week_newest_first(con, tmp_path: Path) -> None:
    home = meterr_home(tmp_path / "home")
    paths = write_all_weeks(con, home, now=NOW)
    assert [p.stem for p in paths] == ["2024-W52", "2025-W01", "2025-W02", WEEK]
    index_html = (home.reports / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'href="(weekly/[^"]+)"', index_html)
    assert links[0] == f"weekly/{WEEK}.html"  # the "latest" link
    assert links[1:] == [f"weekly/{w}.html" for w in (WEEK, "2025-W02", "2025-W01", "2024-W52")]
    middle = (home.weekly_reports / "2025-W01.html").read_text(encoding="utf-8")
    assert 'href="2024-W52.html"' in middle and 'href="2025-W02.html"' in middle


def test_rendering_one_week_refreshes_the_neighbours_that_point_at_it(
    warehouse: Path, tmp_path: Path
) -> None:
    """A page rendered on its own (``meterr report --week``) re-renders the existing pages either
    side: their links to it, and the next week's comparison with it after a restatement."""
    home = meterr_home(tmp_path / "home")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        write_reports(con, home, week="2025-W01", now=NOW)
        write_reports(con, home, week="2025-W02", now=NOW)
        write_reports(con, home, week="2024-W52", now=NOW)  # not next to 2025-W02
    earlier = (home.weekly_reports / "2025-W01.html").read_text(encoding="utf-8")
    assert 'href="2025-W02.html"' in earlier and 'href="2024-W52.html"' in earlier
    before = (home.weekly_reports / "2025-W02.html").read_text(encoding="utf-8")
    # 2025-W01 is restated: its cost doubles. Rendering it again updates 2025-W02's comparison.
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "UPDATE marts.fct_usage_daily SET total_cost_usd = total_cost_usd * 2"
            " WHERE usage_date BETWEEN '2024-12-30' AND '2025-01-05'"
        )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        write_reports(con, home, week="2025-W01", now=NOW)
        expected = weekly_report_data(con, "2025-W02", now=NOW)["totals"]["prev_cost_usd"]
    after = (home.weekly_reports / "2025-W02.html").read_text(encoding="utf-8")
    assert after != before and f"({expected:,.2f}" in after.replace("$", "")


def test_the_neighbour_across_weeks_without_usage_is_refreshed_too(
    warehouse: Path, tmp_path: Path
) -> None:
    """Earlier/later links skip weeks without usage: with 2025-W01 and W02 empty, 2024-W52's
    page links to 2025-W03 once that is rendered, though they are not adjacent weeks."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "DELETE FROM marts.fct_usage_daily"
            " WHERE usage_date BETWEEN '2024-12-30' AND '2025-01-12'"
        )
    home = meterr_home(tmp_path / "home")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        write_reports(con, home, week="2024-W52", now=NOW)
        write_reports(con, home, week=WEEK, now=NOW)
    earlier = (home.weekly_reports / "2024-W52.html").read_text(encoding="utf-8")
    assert f'href="{WEEK}.html"' in earlier


def test_a_weekday_with_no_usage_at_all_is_called_out(tmp_path: Path) -> None:
    """Weekdays had usage for five weeks; on Wed 15 Jan nothing arrived from any source (a missed
    export) while Thursday's did. Weekends were always quiet and are not called out."""
    path = tmp_path / "gap.duckdb"
    days = [date(2024, 12, 16) + timedelta(days=n) for n in range(35)]
    busy = [d for d in days if d.weekday() < 5 and d != date(2025, 1, 15)]
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute(USAGE_DDL)
        con.executemany(
            "INSERT INTO marts.fct_usage_daily VALUES (?, 'custom', 'openai', 'gpt-4o', NULL,"
            " NULL, NULL, NULL, 10, 1000, 0, 0, 100, 1, NULL, 0, 1)",
            [[d] for d in busy],
        )
        data = weekly_report_data(con, WEEK, now=NOW)
    assert data["silent_days"] == ["2025-01-15"]
    html = render_weekly(data)
    assert 'id="silent-days"' in html and "Wed 15 Jan" in html.split('id="silent-days"')[1][:200]
    assert html.count(">no usage</span>") == 3  # Wednesday and the weekend, in the day table


def test_render_index_without_weeks() -> None:
    html = render_index([])
    assert "No usage in the warehouse yet" in html


def test_week_names_are_validated(con, tmp_path: Path) -> None:
    for bad in ("2025-3", "../../etc/passwd", "2021-W53", "2025-W00"):
        with pytest.raises(ValueError):
            write_reports(con, tmp_path / "home", week=bad)
    assert parse_week("2020-W53") == (date(2020, 12, 28), date(2021, 1, 3))


# ---------------------------------------------------------------------------------------------
# Weeks and formatting


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 1, 19), "2025-W02"),  # a Sunday: its own week is not over yet
        (date(2025, 1, 20), "2025-W03"),  # a Monday: the week that just ended
        (date(2025, 1, 22), "2025-W03"),
        (date(2025, 1, 1), "2024-W52"),  # New Year's Day 2025 is in 2025-W01
        (date(2024, 12, 30), "2024-W52"),  # a Monday in December that starts 2025-W01
        (date(2025, 12, 29), "2025-W52"),  # a Monday in December that starts 2026-W01
        (date(2026, 1, 5), "2026-W01"),  # 2026-W01 began on 2025-12-29
        (date(2021, 1, 4), "2020-W53"),  # after a 53-week ISO year
    ],
)
def test_last_complete_week(today: date, expected: str) -> None:
    assert last_complete_week(today) == expected


def test_money_rounds_the_exact_amount_half_away_from_zero() -> None:
    """Halves of a cent round up, although the floats that carry them lie a little below
    (0.695 is 0.69499999…), and a change computed in floats prints as the same amount would."""
    for amount, shown in [(0.695, "$0.70"), (6.625, "$6.63"), (11.445, "$11.45"), (2.675, "$2.68")]:
        assert money(amount) == shown
        assert money(Decimal(str(amount))) == shown
    assert money_signed(0.81 - 0.945) == "-$0.14" == money(-0.135)
    assert money(0.00425) == "$0.0043"
    assert money(1_000_000.005) == "$1,000,000.01"


def test_formatting() -> None:
    assert money(1234.5) == "$1,234.50"
    assert money(0.0042) == "$0.0042" and money(0.004) == "$0.004"
    assert money(0) == "$0.00"
    assert money(-12.3) == "-$12.30"
    assert money(None) == "—"
    assert money_signed(12.3) == "+$12.30" and money_signed(-0.5) == "-$0.50"
    assert pct_signed(0.125) == "+12.5%" and pct_signed(-0.04) == "-4.0%"
    assert pct_signed(None) == "n/a"
    assert pct(0.5) == "50.0%" and pct(0.0001) == "<0.1%"
    assert compact(950) == "950" and compact(1234) == "1.2K" and compact(1_200_000) == "1.2M"
    assert compact(123_456_789) == "123M" and compact(5_600_000_000) == "5.6B"


def test_top_lists_keep_ten_and_sum_the_rest(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        for n in range(12):
            con.execute(
                "INSERT INTO marts.fct_usage_daily (usage_date, source, provider, model, user_id,"
                " request_count, input_tokens, cached_input_tokens, cache_write_tokens,"
                " output_tokens, total_cost_usd) VALUES (DATE '2025-01-14', 'custom', 'openai',"
                " 'gpt-4o', ?, 1, 10, 0, 0, 10, ?)",
                [f"user-{n:02d}", Decimal(n + 1) / 100],
            )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        data = weekly_report_data(con, WEEK, now=NOW)
    top = data["top_users"]
    assert len(top["rows"]) == 10
    assert top["group_count"] == 16 and top["others_count"] == 6
    shown = sum(row["cost_usd"] or 0 for row in top["rows"])
    assert top["others_cost_usd"] == pytest.approx(data["totals"]["cost_usd"] - shown)
    assert "6 more" in render_weekly(data)


def test_empty_usage_mart_renders_empty_pages(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute(USAGE_DDL)
        assert available_weeks(con) == []
        data = weekly_report_data(con, WEEK, now=NOW)
        assert data["has_usage"] is False and data["as_of"]["usage_date"] is None
        html = render_weekly(data)
        assert "No usage was recorded" in html and "<svg" not in html
        path = write_reports(con, tmp_path / "home", week=WEEK, now=NOW)
    index_html = (path.parent.parent / "index.html").read_text(encoding="utf-8")
    assert f'href="weekly/{WEEK}.html"' in index_html  # a rendered page is always listed


def test_ledger_with_timestamptz_is_read_in_utc(tmp_path: Path) -> None:
    path = build_warehouse(tmp_path / "w.duckdb", ledger=False)
    with duckdb.connect(str(path)) as con:
        con.execute("SET TimeZone = 'America/New_York'")
        con.execute(LEDGER_DDL.replace("ingested_at TIMESTAMP", "ingested_at TIMESTAMPTZ"))
        con.execute(
            "INSERT INTO meta.ingested_files VALUES ('e', 'late.csv', 'custom', 'loaded', 5,"
            " NULL, TIMESTAMPTZ '2025-01-19 23:30:00+00')"
        )
        data = weekly_report_data(con, WEEK, now=NOW)
    assert data["as_of"]["ingested_at"] == "2025-01-19T23:30:00"
    assert data["data_health"]["week_files"]["loaded"] == 1


def test_a_week_the_data_does_not_fully_cover_is_marked_partial(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("DELETE FROM marts.fct_usage_daily WHERE usage_date > DATE '2025-01-17'")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        html = render_weekly(weekly_report_data(con, WEEK, now=NOW))
        summaries = weekly_summaries(con)
    assert "This week is not complete in the data" in html
    assert [s["partial"] for s in summaries] == [True, False, False, False]
    assert "partial</span>" in render_index(summaries)


# ---------------------------------------------------------------------------------------------
# The full warehouse: every table the report reads, with hostile strings in each free-text column

CIPHERTEXT = "gAAAAABn-THIS-CIPHERTEXT-MUST-NEVER-APPEAR-IN-A-REPORT=="
HOSTILE_INTEGRATION = "<img src=x onerror=alert(1)>"
HOSTILE_EXPLANATION = 'Spend on <script>steal()</script> & "friends" tripled'
HOSTILE_ACTION = "Batch <b>nightly</b> jobs & use 'flex' tier"
HOSTILE_NOTE = "<iframe src=//evil.example>"
HOSTILE_CHECK = "row count <svg onload=alert(2)> dropped"
HOSTILE_PROJECT = "proj-<u>x</u>"
# The example on the integration page users asked for: $12.43 + $8.21 = $20.64, 5 % fee $1.03.
STATEMENT = {
    "int-openai": (Decimal("12.43"), Decimal("0.6215")),
    "int-sd": (Decimal("8.21"), Decimal("0.4105")),
}
# The savings list, biggest first: (id, kind, scope, value, current, savings, confidence, action).
SAVINGS = [
    ("op-1", "model_switch", "model", "gpt-4o", 480.0, 312.5, 0.8, "Move classification to mini"),
    ("op-3", "batch", "project", HOSTILE_PROJECT, 50.0, 7.25, "high", HOSTILE_ACTION),
    ("op-2", "prompt_caching", "api_key", "key-prod", 120.0, 40.25, 0.6, "Enable prompt caching"),
]
SAVINGS_TOTAL = 360.0


def _integration_usage_rows() -> list[list]:
    """Usage that came through the two integrations: this month's statement, to the cent."""
    openai_cost, openai_fee = STATEMENT["int-openai"]
    sd_cost, sd_fee = STATEMENT["int-sd"]
    return [
        [date(2025, 1, 14), "openai_api", "openai", "gpt-4o-mini", "proj-web", "key-int", "alice",
         "int-openai", 500, 90_000, 0, 0, 10_000, openai_cost, openai_cost, openai_fee,
         openai_cost + openai_fee],
        [date(2025, 1, 15), "custom", "stability", "sd3", HOSTILE_PROJECT, None, "bob", "int-sd",
         20, 0, 0, 0, 0, sd_cost, sd_cost, sd_fee, sd_cost + sd_fee],
    ]  # fmt: skip


def build_full_warehouse(path: Path) -> Path:
    """:func:`build_warehouse` plus every optional table, each with a hostile string."""
    build_warehouse(path)
    con = duckdb.connect(str(path))
    con.executemany(
        "INSERT INTO marts.fct_usage_daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?)",
        _integration_usage_rows(),
    )
    con.execute(
        f"""
        CREATE TABLE marts.anomalies AS SELECT * FROM (VALUES
            ('an-low', DATE '2025-01-18', 'user', 'bob', 'requests', 70.0, 40.0, 2.1, 'low',
             'More requests than usual'),
            ('an-high', DATE '2025-01-15', 'model', 'gpt-4o', 'cost_usd', 25.0, 12.0, 4.2, 'high',
             '{HOSTILE_EXPLANATION.replace("'", "''")}'),
            ('an-med', DATE '2025-01-17', 'api_key', 'key-prod', 'cost_usd', 30.0, 18.0, 3.1,
             'medium', 'Key spend up 60%'),
            ('an-prev', DATE '2025-01-08', 'provider', 'openai', 'cost_usd', 19.0, 12.0, 3.5,
             'high', 'Last week: openai spend jumped'),
            ('an-old', DATE '2025-01-02', 'user', 'alice', 'cost_usd', 9.0, 3.0, 3.0, 'low',
             'two weeks before the report week')
        ) AS t(anomaly_id, usage_date, scope, scope_value, metric, observed, expected, score,
               severity, explanation)
        """
    )
    con.execute(
        "CREATE TABLE marts.savings_opportunities (opportunity_id VARCHAR, kind VARCHAR,"
        " scope VARCHAR, scope_value VARCHAR, current_monthly_cost_usd DOUBLE,"
        " estimated_monthly_savings_usd DOUBLE, confidence VARCHAR, action VARCHAR)"
    )
    con.executemany(
        "INSERT INTO marts.savings_opportunities VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [[*row[:6], str(row[6]), row[7]] for row in SAVINGS],
    )
    con.execute(
        "CREATE TABLE marts.monthly_statement (month DATE, user_id VARCHAR,"
        " integration_id VARCHAR, provider VARCHAR, provider_cost_usd DECIMAL(18,6),"
        " platform_fee_usd DECIMAL(18,6), total_usd DECIMAL(18,6))"
    )
    con.executemany(
        "INSERT INTO marts.monthly_statement VALUES (DATE '2025-01-01', ?, ?, ?, ?, ?, ?)",
        [
            ["alice", "int-openai", "openai", *STATEMENT["int-openai"],
             sum(STATEMENT["int-openai"])],
            ["bob", "int-sd", "stability", *STATEMENT["int-sd"], sum(STATEMENT["int-sd"])],
            [None, None, "anthropic", Decimal("60"), Decimal("0"), Decimal("60")],
        ],
    )  # fmt: skip
    con.execute(
        "INSERT INTO marts.monthly_statement VALUES"
        " (DATE '2024-12-01', 'alice', 'int-openai', 'openai', 99, 4.95, 103.95)"
    )
    con.execute(
        "CREATE TABLE meta.integrations (integration_id VARCHAR NOT NULL, user_id VARCHAR,"
        " provider VARCHAR NOT NULL, name VARCHAR, key_ciphertext VARCHAR NOT NULL,"
        " key_last4 VARCHAR, status VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,"
        " last_sync_at TIMESTAMP, last_error VARCHAR)"
    )
    con.executemany(
        "INSERT INTO meta.integrations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ["int-openai", "alice", "openai", "OpenAI (GPT-4)", CIPHERTEXT, "x9Kq", "enabled",
             datetime(2024, 11, 2, 10, 0), datetime(2025, 1, 20, 23, 0), None],
            ["int-sd", "bob", "stability", HOSTILE_INTEGRATION, CIPHERTEXT, "Zz11", "enabled",
             datetime(2024, 12, 5, 10, 0), datetime(2025, 1, 18, 0, 0), None],
            ["int-old", "carol", "anthropic", "Old key", CIPHERTEXT, "0ld4", "disabled",
             datetime(2024, 10, 1, 10, 0), datetime(2024, 12, 1, 0, 0),
             "HTTP 401 <b>revoked</b>"],
        ],
    )  # fmt: skip
    con.execute(
        """
        CREATE TABLE marts.rpt_source_reconciliation AS SELECT * FROM (VALUES
            (DATE '2025-01-14', 'openai', 100.0, 104.5, 4.5, 'billed above estimate'),
            (DATE '2025-01-15', 'openai', 50.0, 50.0, 0.0, 'agrees'),
            (DATE '2025-01-16', 'anthropic', 80.0, 67.75, -12.25, 'export missing a day'),
            (DATE '2025-01-17', 'custom', 1.0, 2.0, 1.0, NULL),
            (DATE '2025-01-02', 'openai', 10.0, 109.0, 99.0, 'outside the week')
        ) AS t(usage_date, provider, estimated_usd, billed_usd, difference_usd, note)
        """
    )
    con.execute(
        "UPDATE marts.rpt_source_reconciliation SET note = ? WHERE usage_date = DATE '2025-01-17'",
        [HOSTILE_NOTE],
    )
    con.execute(check_log.DDL)
    con.executemany(
        "INSERT INTO meta.check_results VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            # The gate on custom_usage failed, then passed: not failing any more.
            [datetime(2025, 1, 16, 9, 5), "r1", "raw/custom_usage", "quality_gate", False,
             "WARN", "old failure"],
            [datetime(2025, 1, 17, 9, 5), "r2", "raw/custom_usage", "quality_gate", True,
             "WARN", "all good"],
            # A dbt test that passed, then failed on the latest run: listed.
            [datetime(2025, 1, 16, 9, 5), "r1", "marts/fct_usage_daily", "not_null_model", True,
             "ERROR", None],
            [datetime(2025, 1, 17, 9, 5), "r2", "marts/fct_usage_daily", "not_null_model", False,
             "ERROR", HOSTILE_CHECK],
        ],
    )  # fmt: skip
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.custom_usage (_file_sha256 VARCHAR, _row_number BIGINT,"
        " _loaded_at TIMESTAMP, model VARCHAR)"
    )
    con.execute(
        "INSERT INTO raw.custom_usage VALUES ('a', 1, TIMESTAMP '2025-01-19 22:00:00', 'x'),"
        " ('a', 2, TIMESTAMP '2025-01-19 22:00:00', 'y')"
    )
    con.execute("CREATE TABLE raw.openai_costs (_loaded_at TIMESTAMP, amount DOUBLE)")
    con.close()
    return path


@pytest.fixture
def full_warehouse(tmp_path: Path) -> Path:
    return build_full_warehouse(tmp_path / "full.duckdb")


@pytest.fixture
def full_report(full_warehouse: Path) -> tuple[dict, str]:
    with duckdb.connect(str(full_warehouse), read_only=True) as con:
        data = weekly_report_data(con, WEEK, now=NOW)
    return data, render_weekly(data)


@pytest.fixture
def admin(full_warehouse: Path) -> tuple[dict, str]:
    with duckdb.connect(str(full_warehouse), read_only=True) as con:
        data = admin_report_data(con, now=NOW)
    return data, render_admin(data, latest_href=f"weekly/{WEEK}.html")


def _section(html: str, anchor: str) -> str:
    match = re.search(rf'<section id="{anchor}">(.*?)</section>', html, flags=re.S)
    assert match, anchor
    return match.group(1)


def test_full_report_shows_every_section_and_card_with_an_as_of_stamp(full_report) -> None:
    data, html = full_report
    for anchor, heading in WEEKLY_SECTIONS:
        body = _section(html, anchor)
        assert f"<h2>{heading}</h2>" in body
        assert "Data as of 19 Jan 2025 · last load 2025-01-20 23:00 UTC" in body, anchor
    for card_id, label in WEEKLY_CARDS:
        card = re.search(rf'<div class="card" id="{card_id}">(.*?)as of 19 Jan 2025', html, re.S)
        assert card and label in card.group(1), card_id
    # The newest load is the newest of the ledger, the raw tables and the integration syncs.
    assert data["as_of"]["loaded_at"] == "2025-01-20T23:00:00"
    assert "Nothing yet" not in html and "not available" not in html


def test_savings_are_ranked_with_quick_actions_and_total_in_the_header_card(full_report) -> None:
    data, html = full_report
    savings = data["savings"]
    assert [row["opportunity_id"] for row in savings["rows"]] == ["op-1", "op-2", "op-3"]
    assert [row["rank"] for row in savings["rows"]] == [1, 2, 3]
    assert savings["total_monthly_savings_usd"] == pytest.approx(SAVINGS_TOTAL)
    card = re.search(r'id="savings-potential">(.*?)</div>\s*</div>', html, re.S)
    assert card and "$360.00" in card.group(1)
    body = _section(html, "savings-opportunities")
    assert "Quick action" in body and "Total potential savings" in body
    assert body.index("Move classification") < body.index("Enable prompt caching")
    assert "Batch &lt;b&gt;nightly&lt;/b&gt; jobs &amp; use &#39;flex&#39; tier" in body
    assert ">80%<" in body and ">high<" in body  # numeric and text confidence


def test_anomalies_this_week_and_last_most_severe_and_newest_first(full_report) -> None:
    data, html = full_report
    anomalies = data["anomalies"]
    assert [row["anomaly_id"] for row in anomalies["rows"]] == [
        "an-high", "an-prev", "an-med", "an-low",
    ]  # fmt: skip
    assert anomalies["counts"] == {"high": 1, "medium": 1, "low": 1}
    assert (anomalies["week_count"], anomalies["prev_week_count"]) == (3, 1)
    prev = next(row for row in anomalies["rows"] if row["anomaly_id"] == "an-prev")
    assert prev["in_report_week"] is False
    body = _section(html, "anomalies")
    for level in ("high", "medium", "low"):
        assert f'<span class="badge {level}">{level}</span>' in body
    assert "last week</span>" in body and "two weeks before" not in body
    assert "Spend on &lt;script&gt;steal()&lt;/script&gt; &amp; &#34;friends&#34; tripled" in body
    card = re.search(r'id="anomaly-count">(.*?)</div>\s*</div>', html, re.S)
    assert card and '<div class="value">3</div>' in card.group(1)


def test_heat_map_is_weekday_by_week_over_13_weeks(full_report) -> None:
    data, html = full_report
    heatmap = data["heatmap"]
    assert heatmap["metric"] == "cost_usd" and len(heatmap["cells"]) == 91
    assert len(heatmap["weeks"]) == 13 and heatmap["weeks"][-1] == WEEK
    daily = {row["date"]: row["cost_usd"] for row in data["daily_history"]}
    peak_day = max(daily, key=lambda day: daily[day] or 0)
    assert heatmap["peak"] == {"date": peak_day, "value": pytest.approx(daily[peak_day])}
    assert sum(cell["in_report_week"] for cell in heatmap["cells"]) == 7
    assert sum(day["share"] for day in heatmap["by_weekday"]) == pytest.approx(1.0)
    body = _section(html, "usage-heatmap")
    [svg] = _svgs(body)
    root = ET.fromstring(svg)
    cells = [
        path
        for group in root.iter()
        if "mark-rect" in group.attrib.get("class", "")
        for path in group
        if path.attrib.get("aria-roledescription") == "rect mark"
    ]
    assert len(cells) == 91
    assert any(cell.attrib.get("aria-label", "").startswith("Tue 14 Jan: $") for cell in cells)


def test_top_projects_are_listed(full_report) -> None:
    data, html = full_report
    labels = [row["label"] for row in data["top_projects"]["rows"]]
    assert labels == ["(unattributed)", "proj-web", HOSTILE_PROJECT]
    web = data["top_projects"]["rows"][1]
    assert web["cost_usd"] == pytest.approx(13.0515)
    assert "proj-&lt;u&gt;x&lt;/u&gt;" in _section(html, "top-projects")


def test_my_integrations_reproduce_the_example_totals(full_report) -> None:
    data, html = full_report
    mine = data["my_integrations"]
    assert (mine["mode"], mine["month"], mine["basis"]) == ("integrations", "2025-01", "statement")
    totals = mine["totals"]
    assert totals["provider_cost_usd"] == pytest.approx(20.64)
    assert totals["platform_fee_usd"] == pytest.approx(1.032)
    assert totals["total_usd"] == pytest.approx(21.672)
    assert totals["fee_rate"] == pytest.approx(0.05)
    cards = {card["integration_id"]: card for card in mine["integrations"]}
    assert set(cards) == {"int-openai", "int-sd", "int-old"}
    assert cards["int-openai"]["provider_cost_usd"] == pytest.approx(12.43)
    assert cards["int-openai"]["mtd_total_usd"] == pytest.approx(13.0515)
    assert cards["int-openai"]["key_display"] == "…x9Kq"
    assert (cards["int-openai"]["health"], cards["int-old"]["health"]) == ("active", "disabled")
    assert cards["int-old"]["total_usd"] == 0.0  # no usage, no statement row
    # Usage that came from files, not an integration, is listed apart.
    other = {source["source"] for source in mine["sources"]}
    assert other == {"openai_api", "anthropic_export", "custom"}
    body = _section(html, "my-integrations")
    summary = re.search(r'<div class="summary".*?</div>\s*</div>', body, re.S)
    assert summary
    text = re.sub(r"<[^>]+>", " ", summary.group(0))
    text = re.sub(r"\s+", " ", text)
    assert "Total Platform Costs This Month $20.64" in text
    assert "Platform Service Fee (5% of platform costs) $1.03" in text
    assert "Total $21.67" in text
    assert "OpenAI (GPT-4)" in body and "✓ Active" in body and "…x9Kq" in body
    assert "$12.43" in body and "$8.21" in body and "2025-01-20 23:00 UTC" in body
    assert "HTTP 401 &lt;b&gt;revoked&lt;/b&gt;" in body


def test_stored_keys_never_reach_any_page(full_warehouse: Path, full_report, admin) -> None:
    data, html = full_report
    admin_data, admin_html = admin
    for text in (html, admin_html, json.dumps(data), json.dumps(admin_data)):
        assert CIPHERTEXT not in text and "key_ciphertext" not in text
    # The admin page shows no key at all, not even the last 4 characters.
    for last4 in ("x9Kq", "Zz11", "0ld4"):
        assert last4 not in admin_html and last4 not in json.dumps(admin_data)
    assert "Zz11" in html  # the user's own page shows …last4


def test_hostile_strings_are_escaped_in_every_new_section(full_report, admin) -> None:
    _, html = full_report
    _, admin_html = admin
    for page in (html, admin_html):
        assert "<img" not in page and "<iframe" not in page and "<script" not in page
        assert "<svg onload" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the integration's name
    assert "&lt;iframe src=//evil.example&gt;" in html  # reconciliation note
    assert "row count &lt;svg onload=alert(2)&gt; dropped" in html  # failed check
    # Escaped text may mention a URL; no element may point at one.
    tag_link = r"""<[a-z][^>]*\s(?:src|href)\s*=\s*["']?\s*(?:[a-z]+:)?//"""
    assert not re.search(tag_link, html + admin_html, flags=re.I)


def test_data_health_freshness_checks_unpriced_and_reconciliation(full_report) -> None:
    data, html = full_report
    health = data["data_health"]
    raw = {row["table"]: row for row in health["raw_tables"]}
    assert raw["raw.custom_usage"] == {
        "table": "raw.custom_usage", "row_count": 2, "last_loaded_at": "2025-01-19T22:00:00",
    }  # fmt: skip
    assert raw["raw.openai_costs"]["row_count"] == 0
    sources = {row["source"]: row for row in health["sources"]}
    assert sources["custom"]["last_loaded_at"] == "2024-12-20T07:00:00"  # the ledger's old.json
    assert sources["openai_api"]["last_loaded_at"] is None  # no file: an API source
    checks = health["failed_checks"]
    assert checks["table"] == "meta.check_results" and checks["total"] == 1
    assert [row["description"] for row in checks["rows"]] == [HOSTILE_CHECK]
    recon = health["reconciliation"]
    assert recon["gap_columns"] == ["difference_usd"]
    assert [row["difference_usd"] for row in recon["rows"]] == [-12.25, 4.5, 1.0]
    assert recon["total"] == 3 and recon["window"]["start"] == "2025-01-13"
    body = _section(html, "data-health")
    assert "-$12.25" in body and "$4.50" in body and "$99.00" not in body
    assert "1 failed check recorded in meta.check_results" in body
    unpriced = data["totals"]["unpriced_share_tokens"]
    assert f"Unpriced usage this week: {pct(unpriced)} of tokens" in body
    assert "raw.custom_usage" in body and "2025-01-19 22:00 UTC" in body
    assert "broken &lt;x&gt;.csv" in body


def test_data_health_without_the_optional_tables(report) -> None:
    data, html = report
    health = data["data_health"]
    assert health["raw_tables"] == []
    assert health["failed_checks"]["available"] is False
    assert health["reconciliation"]["available"] is False
    body = _section(html, "data-health")
    assert "No failed checks recorded" in body
    assert "Source reconciliation is not available" in body


def test_reconciliation_without_a_difference_column_is_not_available(tmp_path: Path) -> None:
    path = build_warehouse(tmp_path / "w.duckdb")
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE marts.rpt_source_reconciliation AS SELECT 'openai' AS provider,"
            " 10.0 AS estimated_usd"
        )
        data = weekly_report_data(con, WEEK, now=NOW)
    recon = data["data_health"]["reconciliation"]
    assert recon["available"] is False and "no difference column" in recon["note"]


def test_without_integrations_usage_by_source_and_how_to_add_one(report) -> None:
    data, html = report
    mine = data["my_integrations"]
    assert mine["mode"] == "sources" and mine["integrations"] == []
    labels = {card["source"]: card["label"] for card in mine["sources"]}
    assert labels == {
        "openai_api": "OpenAI API",
        "anthropic_export": "Anthropic export files",
        "custom": "Custom files",
    }
    month_rows = [r for r in ROWS if date(2025, 1, 1) <= r["usage_date"] <= date(2025, 1, 19)]
    expected = sum(r["total"] for r in month_rows if r["total"] is not None)
    assert mine["totals"]["total_usd"] == pytest.approx(float(expected))
    body = _section(html, "my-integrations")
    assert "<code>meterr integrations add --user YOU --provider openai</code>" in body
    assert "Custom files" in body and "Total Platform Costs This Month" in body


def test_environment_keys_appear_as_integrations(tmp_path: Path) -> None:
    path = build_warehouse(tmp_path / "w.duckdb")
    with duckdb.connect(str(path)) as con:
        con.execute(
            "UPDATE marts.fct_usage_daily SET integration_id = 'env-openai'"
            " WHERE source = 'openai_api'"
        )
        data = weekly_report_data(con, WEEK, now=NOW)
    [card] = data["my_integrations"]["integrations"]
    assert card["label"] == "OpenAI (environment key)" and card["health"] == "active"
    assert card["basis"] == "usage" and card["key_display"] is None
    assert "OpenAI (environment key)" in render_weekly(data)


# ---------------------------------------------------------------------------------------------
# The admin page


def test_admin_platform_statistics(admin) -> None:
    data, html = admin
    month = data["periods"][0]
    jan = [r for r in ROWS if date(2025, 1, 1) <= r["usage_date"]] + [
        {"request_count": row[8], "total": row[16], "fee": row[15]}
        for row in _integration_usage_rows()
    ]
    assert month["key"] == "month" and month["label"] == "January 2025 to date"
    assert month["requests"] == sum(r["request_count"] for r in jan)
    assert month["cost_usd"] == pytest.approx(float(sum(r["total"] or 0 for r in jan)))
    fee = sum((r["fee"] or 0) for r in jan if r["total"] is not None)
    assert month["platform_fee_usd"] == pytest.approx(float(fee))
    body = _section(html, "platform-statistics")
    assert money(month["platform_fee_usd"]) in body and f"{month['requests']:,}" in body
    assert [row["month"] for row in data["revenue_by_month"]] == ["2024-12", "2025-01"]


def test_admin_integration_health_and_most_used(admin) -> None:
    data, html = admin
    health = {row["integration_id"]: row["health"] for row in data["integrations"]}
    # int-sd last synced 81 hours before NOW: stale; int-old is disabled.
    assert health == {"int-openai": "active", "int-sd": "stale", "int-old": "disabled"}
    assert data["integration_counts"] == {"active": 1, "stale": 1, "disabled": 1}
    assert [row["integration_id"] for row in data["most_used_integrations"]] == [
        "int-openai", "int-sd",
    ]  # fmt: skip
    assert data["most_used_models"][0]["model"] == "gpt-4o"
    providers = {row["provider_label"]: row for row in data["providers"]}
    assert providers["OpenAI"]["integrations"] == 1 and providers["Anthropic"]["enabled"] == 0
    for anchor, heading in ADMIN_SECTIONS:
        body = _section(html, anchor)
        assert f"<h2>{heading}</h2>" in body and "Data as of 19 Jan 2025" in body
    assert 'href="index.html"' in html and f'href="weekly/{WEEK}.html"' in html
    assert "HTTP 401 &lt;b&gt;revoked&lt;/b&gt;" in _section(html, "integration-health")


def test_admin_page_on_a_warehouse_without_extras(con) -> None:
    data = admin_report_data(con, now=NOW)
    assert data["integrations"] == [] and data["registry_available"] is False
    html = render_admin(data)
    assert "meta.integrations does not exist" in html
    assert [row["label"] for row in data["most_used_sources"]][0] == "OpenAI API"
    assert "Most used integrations" in html and "usage by source instead" in html


def test_write_reports_writes_the_admin_page_linked_both_ways(full_warehouse, tmp_path) -> None:
    home = meterr_home(tmp_path / "home")
    with duckdb.connect(str(full_warehouse), read_only=True) as con:
        write_all_weeks(con, home, now=NOW)
    admin_page = home.reports / "admin.html"
    assert admin_page.is_file()
    assert 'href="admin.html"' in (home.reports / "index.html").read_text(encoding="utf-8")
    for page in home.weekly_reports.glob("*.html"):
        assert 'href="../admin.html"' in page.read_text(encoding="utf-8")
    admin_html = admin_page.read_text(encoding="utf-8")
    assert f'href="weekly/{WEEK}.html"' in admin_html
    assert CIPHERTEXT not in admin_html


def test_new_formatting_helpers() -> None:
    assert rate(0.05) == "5%" and rate(0.075) == "7.5%" and rate(None) == "—"
    assert cell(None) == "—" and cell(True) == "yes" and cell(-12.25, "difference_usd") == "-$12.25"
    assert cell(1234, "rows") == "1,234" and cell(0.01234, "ratio") == "0.01234"
    assert cell("2025-01-16T09:05:00") == "2025-01-16 09:05 UTC"
    assert cell("x" * 400).endswith("…") and len(cell("x" * 400)) == 300


def test_reconciliation_reads_the_accounting_mart_layout(tmp_path: Path) -> None:
    """The accounting mart's columns: ``*_minus_*`` differences, a status, many extra columns."""
    path = build_warehouse(tmp_path / "w.duckdb")
    with duckdb.connect(str(path)) as con:
        con.execute(
            """
            CREATE TABLE marts.rpt_source_reconciliation AS SELECT * FROM (VALUES
                (DATE '2025-01-14', 'openai', 'gpt-4o', NULL, 10.0, 'provider_api', 12.5,
                 'console_export', NULL, NULL, 100, NULL, 2.5, NULL, NULL, 'mismatch',
                 'price_difference', 'openai_api,openai_export'),
                (DATE '2025-01-15', 'openai', 'gpt-4o', NULL, 10.0, 'provider_api', 10.000001,
                 'console_export', NULL, NULL, 100, NULL, 0.000001, NULL, NULL, 'matched',
                 NULL, 'openai_api,openai_export'),
                (DATE '2025-01-16', 'anthropic', 'claude', 'p1', 5.0, 'provider_api', NULL,
                 NULL, 4.0, 'helicone', 100, 80, NULL, -1.0, -20, 'mismatch',
                 'observability_missing_traffic', 'anthropic_api,helicone'),
                (DATE '2025-01-17', 'openai', 'o1', NULL, 1.0, 'provider_api', NULL, NULL, NULL,
                 NULL, 5, 900, NULL, NULL, 895, 'mismatch', 'observability_extra_traffic',
                 'openai_api,langfuse')
            ) AS t(usage_date, provider, model, project_id, estimated_cost_usd, estimated_source,
                   billed_cost_usd, billed_source, observed_cost_usd, observed_source,
                   estimated_tokens, observed_tokens, billed_minus_estimated_usd,
                   observed_minus_reference_usd, observed_minus_estimated_tokens, status,
                   reason_code, sources_seen)
            """
        )
        data = weekly_report_data(con, WEEK, now=NOW)
    recon = data["data_health"]["reconciliation"]
    assert recon["gap_columns"] == [
        "billed_minus_estimated_usd", "observed_minus_reference_usd",
        "observed_minus_estimated_tokens",
    ]  # fmt: skip
    # Dollar gaps first (2.50, then 1.00), then the token-only gap; the matched row is left out.
    assert [row["usage_date"] for row in recon["rows"]] == [
        "2025-01-14",
        "2025-01-16",
        "2025-01-17",
    ]
    assert recon["columns"][:4] == ["usage_date", "provider", "model", "project_id"]
    assert recon["columns"][-2:] == ["status", "reason_code"]
    assert "sources_seen" not in recon["columns"] and "estimated_source" not in recon["columns"]
    html = render_weekly(data)
    assert "observability_missing_traffic" in html and "+$2.50" not in html and "$2.50" in html


# ---------------------------------------------------------------------------------------------
# The spend basis: the same usage from several sources counts once (reports/spend.py)

SPEND_DDL = """
CREATE TABLE marts.fct_spend_daily (
    usage_date DATE, provider VARCHAR, model VARCHAR, project_id VARCHAR, integration_id VARCHAR,
    spend_usd DECIMAL(18,6), spend_basis VARCHAR, authoritative_source VARCHAR,
    source_rank INTEGER, request_count BIGINT, input_tokens BIGINT, cached_input_tokens BIGINT,
    cache_write_tokens BIGINT, cache_write_1h_tokens BIGINT, output_tokens BIGINT,
    list_cost_usd DECIMAL(18,6), billed_cost_usd DECIMAL(18,6), has_unpriced_usage BOOLEAN,
    sources_seen VARCHAR, price_sources VARCHAR, price_versions VARCHAR
)
"""
ALLOCATED_DDL = """
CREATE TABLE marts.fct_spend_allocated (
    usage_date DATE, provider VARCHAR, model VARCHAR, project_id VARCHAR, integration_id VARCHAR,
    user_id VARCHAR, api_key_id VARCHAR, allocated_cost_usd DECIMAL(18,6), request_count BIGINT,
    allocation_basis VARCHAR, is_unattributed BOOLEAN, attribution_source VARCHAR,
    authoritative_source VARCHAR
)
"""
D = Decimal
API_MODEL = "gpt-4o-2024-08-06"  # the API names the model its way, Helicone its own
# fct_usage_daily: (day, source, provider, model, project, key, user, integration, requests,
# input, output, list, billed, fee, total). 5% platform fee on every priced row.
MULTI_USAGE = [
    # 2025-01-14, OpenAI: the API bills $10.00; Helicone saw $9.00 of the same traffic.
    (date(2025, 1, 14), "openai_api", "openai", API_MODEL, "proj-a", "key-a", None, "int-openai",
     100, 50_000, 10_000, D("10"), D("10"), D("0.5"), D("10.5")),
    (date(2025, 1, 14), "helicone", "openai", "gpt-4o", None, None, "alice", None,
     60, 30_000, 6_000, D("6"), D("6"), D("0.3"), D("6.3")),
    (date(2025, 1, 14), "helicone", "openai", "gpt-4o", None, None, "bob", None,
     30, 15_000, 3_000, D("3"), D("3"), D("0.15"), D("3.15")),
    # 2025-01-15, Anthropic: the console export ($4.00) and Helicone ($4.00) again.
    (date(2025, 1, 15), "anthropic_export", "anthropic", "claude-sonnet-4", None, "key-b", None,
     None, 0, 20_000, 4_000, D("4"), None, D("0.2"), D("4.2")),
    (date(2025, 1, 15), "helicone", "anthropic", "claude-sonnet-4", None, None, "carol", None,
     40, 20_000, 4_000, D("4"), D("4"), D("0.2"), D("4.2")),
    # 2025-01-16: one source only, nobody prices the model.
    (date(2025, 1, 16), "custom", "mistral", UNPRICED_MODEL, None, None, "bob", None,
     7, 1_200, 300, None, None, None, None),
    # The week before: the API ($8.00) and Helicone ($7.00).
    (date(2025, 1, 8), "openai_api", "openai", API_MODEL, "proj-a", "key-a", None, "int-openai",
     80, 40_000, 8_000, D("8"), D("8"), D("0.4"), D("8.4")),
    (date(2025, 1, 8), "helicone", "openai", "gpt-4o", None, None, "alice", None,
     70, 35_000, 7_000, D("7"), D("7"), D("0.35"), D("7.35")),
]  # fmt: skip
# fct_spend_daily: (day, provider, model, project, integration, spend, authoritative source,
# requests, input, output, has_unpriced_usage).
MULTI_SPEND = [
    (date(2025, 1, 14), "openai", API_MODEL, "proj-a", "int-openai", D("10"), "openai_api",
     100, 50_000, 10_000, False),
    (date(2025, 1, 15), "anthropic", "claude-sonnet-4", None, None, D("4"), "anthropic_export",
     0, 20_000, 4_000, False),
    (date(2025, 1, 16), "mistral", UNPRICED_MODEL, None, None, None, "custom",
     7, 1_200, 300, True),
    (date(2025, 1, 8), "openai", API_MODEL, "proj-a", "int-openai", D("8"), "openai_api",
     80, 40_000, 8_000, False),
]  # fmt: skip
# fct_spend_allocated: (day, provider, model, project, integration, user, key, cost, requests).
MULTI_ALLOCATED = [
    # Helicone names alice and bob for $9.00 of the API's $10.00: $1.00 is unattributed.
    (date(2025, 1, 14), "openai", API_MODEL, "proj-a", "int-openai", "alice", None, D("6"), 60),
    (date(2025, 1, 14), "openai", API_MODEL, "proj-a", "int-openai", "bob", None, D("3"), 30),
    (date(2025, 1, 14), "openai", API_MODEL, "proj-a", "int-openai", None, None, D("1"), 10),
    (date(2025, 1, 15), "anthropic", "claude-sonnet-4", None, None, "carol", "key-b", D("4"), 0),
    (date(2025, 1, 16), "mistral", UNPRICED_MODEL, None, None, "bob", None, None, 7),
    (date(2025, 1, 8), "openai", API_MODEL, "proj-a", "int-openai", "alice", None, D("7"), 70),
    (date(2025, 1, 8), "openai", API_MODEL, "proj-a", "int-openai", None, None, D("1"), 10),
]  # fmt: skip
# What the report must show: each day and provider once, from the authoritative source, plus the
# fee of that source's rows (never Helicone's too).
MULTI_WEEK_TOTAL = 10.5 + 4.2
MULTI_PREV_TOTAL = 8.4
# What summing every source's rows gives (the double count the accounting marts remove).
MULTI_WEEK_ALL_SOURCES = 10.5 + 6.3 + 3.15 + 4.2 + 4.2
MULTI_PREV_ALL_SOURCES = 8.4 + 7.35


def build_multi_source_warehouse(path: Path, *, accounting: bool = True) -> Path:
    """The same days arriving from the provider API / console export and from Helicone, with the
    accounting marts holding the authoritative rows (unless ``accounting=False``)."""
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute(USAGE_DDL)
    con.executemany(
        "INSERT INTO marts.fct_usage_daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?,"
        " ?)",
        [list(row) for row in MULTI_USAGE],
    )
    if accounting:
        con.execute(SPEND_DDL)
        con.executemany(
            "INSERT INTO marts.fct_spend_daily VALUES (?, ?, ?, ?, ?, ?, 'billed', ?, 1, ?, ?, 0,"
            " 0, 0, ?, ?, ?, ?, 'x', NULL, NULL)",
            [[*row[:7], *row[7:10], row[5], row[5], row[10]] for row in MULTI_SPEND],
        )
        con.execute(ALLOCATED_DDL)
        con.executemany(
            "INSERT INTO marts.fct_spend_allocated VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " 'observed_cost', ?, 'helicone', 'x')",
            [[*row, row[5] is None and row[6] is None] for row in MULTI_ALLOCATED],
        )
        con.execute(
            "UPDATE marts.fct_spend_allocated AS a"
            " SET authoritative_source = s.authoritative_source"
            " FROM marts.fct_spend_daily AS s WHERE a.usage_date = s.usage_date"
            " AND a.provider = s.provider"
        )
    con.close()
    return path


@pytest.fixture
def multi_report(tmp_path: Path) -> tuple[dict, str]:
    path = build_multi_source_warehouse(tmp_path / "multi.duckdb")
    with duckdb.connect(str(path), read_only=True) as con:
        data = weekly_report_data(con, WEEK, now=NOW)
    return data, render_weekly(data)


def _money_rows(rows: list[dict]) -> float:
    return sum(row["cost_usd"] or 0.0 for row in rows)


def test_same_day_from_api_and_helicone_counts_once(multi_report) -> None:
    data, html = multi_report
    assert data["spend_basis"]["kind"] == "authoritative"
    totals = data["totals"]
    assert totals["cost_usd"] == pytest.approx(MULTI_WEEK_TOTAL)
    assert totals["cost_usd"] != pytest.approx(MULTI_WEEK_ALL_SOURCES)
    assert totals["prev_cost_usd"] == pytest.approx(MULTI_PREV_TOTAL)
    assert totals["wow_change_usd"] == pytest.approx(MULTI_WEEK_TOTAL - MULTI_PREV_TOTAL)
    assert totals["platform_fee_usd"] == pytest.approx(0.5 + 0.2)  # the authoritative rows' fee
    # Requests and tokens from the authoritative source only, too.
    assert totals["requests"] == 100 + 0 + 7
    assert totals["tokens"] == 60_000 + 24_000 + 1_500
    assert (totals["unpriced_tokens"], totals["unpriced_requests"]) == (1_500, 7)
    # Every breakdown adds up to the same total.
    for key in ("by_provider", "by_model", "daily"):
        assert _money_rows(data[key]) == pytest.approx(MULTI_WEEK_TOTAL), key
    assert data["weekly_trend"][-1]["cost_usd"] == pytest.approx(MULTI_WEEK_TOTAL)
    assert sum(cell["value"] for cell in data["heatmap"]["cells"] if cell["in_report_week"]) == (
        pytest.approx(MULTI_WEEK_TOTAL)
    )
    openai = next(row for row in data["by_provider"] if row["provider"] == "openai")
    assert openai["cost_usd"] == pytest.approx(10.5) and openai["requests"] == 100
    assert [row["model"] for row in data["by_model"]][:2] == [API_MODEL, "claude-sonnet-4"]
    [unpriced] = data["unpriced"]["by_model"]
    assert (unpriced["model"], unpriced["tokens"], unpriced["sources"]) == (
        UNPRICED_MODEL, 1_500, ["custom"],
    )  # fmt: skip
    assert f"${MULTI_WEEK_TOTAL:,.2f}" in html
    assert "Spend basis: the authoritative source per UTC day and provider" in html
    assert 'href="#data-health">Data health</a>' in html


def test_requests_a_cost_only_export_leaves_out_are_reported_not_lost(tmp_path: Path) -> None:
    """A cost CSV without its usage CSV is authoritative for the money but has no requests or
    tokens: the report says how many the other sources saw (the largest, not their sum)."""
    path = build_multi_source_warehouse(tmp_path / "cost_only.duckdb")
    day = date(2025, 1, 17)
    with duckdb.connect(str(path)) as con:
        con.executemany(
            "INSERT INTO marts.fct_usage_daily VALUES (?, ?, 'openai', ?, NULL, NULL, NULL, NULL,"
            " ?, ?, 0, 0, ?, ?, ?, 0, ?)",
            [
                [day, "openai_export", API_MODEL, 0, 0, 0, None, D("5"), D("5")],
                [day, "helicone", "gpt-4o", 50, 8_000, 2_000, D("4"), D("4"), D("4")],
                [day, "langfuse", "gpt-4o", 45, 7_000, 2_000, D("4"), D("4"), D("4")],
            ],
        )
        con.execute(
            "INSERT INTO marts.fct_spend_daily VALUES (?, 'openai', ?, NULL, NULL, 5, 'billed',"
            " 'openai_export', 2, 0, 0, 0, 0, 0, 0, NULL, 5, false, 'x', NULL, NULL)",
            [day, API_MODEL],
        )
        con.execute(
            "INSERT INTO marts.fct_spend_allocated VALUES (?, 'openai', ?, NULL, NULL, NULL, NULL,"
            " 5, 0, 'unattributed', true, NULL, 'openai_export')",
            [day, API_MODEL],
        )
        data = weekly_report_data(con, WEEK, now=NOW)
    totals = data["totals"]
    assert totals["requests"] == 100 + 0 + 7  # the cost-only day adds none
    assert totals["not_counted"] == {
        "day_providers": 1,
        "requests": 50,
        "tokens": 10_000,
        "cost_only_sources": ["openai_export"],
        "seen_by": ["helicone", "langfuse"],
    }
    assert totals["cost_per_1k_requests_usd"] is None  # the requests are incomplete
    html = render_weekly(data)
    assert "Not included: 50 requests seen by helicone, langfuse on 1 day" in html
    assert "Not included: 10K tokens seen by helicone, langfuse" in html
    assert "Requests and tokens are undercounted" in html and "10,000 tokens" in html


def test_nothing_is_flagged_when_the_counted_source_reports_usage(multi_report) -> None:
    data, html = multi_report
    # anthropic_export reports tokens but no requests (the console has none): not cost-only.
    assert data["totals"]["not_counted"]["day_providers"] == 0
    assert "Not included:" not in html and "undercounted" not in html


def test_top_users_and_keys_include_unattributed_and_add_up_to_the_total(multi_report) -> None:
    data, html = multi_report
    users = {row["label"]: row for row in data["top_users"]["rows"]}
    assert set(users) == {"alice", "bob", "carol", "(unattributed)"}
    # Each user's share of the spend, and the same share of its fee.
    assert users["alice"]["cost_usd"] == pytest.approx(6.0 * 1.05)
    assert users["(unattributed)"]["cost_usd"] == pytest.approx(1.0 * 1.05)
    assert users["bob"]["partly_unpriced"]  # bob's mistral usage has no price
    assert users["alice"]["tokens"] is None  # tokens are not allocated to users
    for key in ("top_users", "top_api_keys", "top_projects"):
        top = data[key]
        assert top["others_count"] == 0
        assert _money_rows(top["rows"]) == pytest.approx(MULTI_WEEK_TOTAL), key
    keys = {row["label"]: row["cost_usd"] for row in data["top_api_keys"]["rows"]}
    assert keys == {"(unattributed)": pytest.approx(10.5), "key-b": pytest.approx(4.2)}
    assert "(unattributed)" in _section(html, "top-users")
    assert "Tokens are not allocated" in _section(html, "top-users")


def test_data_health_says_which_sources_are_counted(multi_report) -> None:
    data, html = multi_report
    sources = {row["source"]: row for row in data["data_health"]["sources"]}
    assert sources["helicone"]["spend_role"] == "reconciled only"
    assert sources["helicone"]["week_cost_usd"] == pytest.approx(6.3 + 3.15 + 4.2)  # its own
    assert sources["openai_api"]["spend_role"] == "counted"
    assert sources["anthropic_export"]["spend_role"] == "counted"
    assert "reconciled only" in _section(html, "data-health")


def test_index_admin_and_my_integrations_use_the_same_basis(tmp_path: Path) -> None:
    path = build_multi_source_warehouse(tmp_path / "multi.duckdb")
    with duckdb.connect(str(path), read_only=True) as con:
        summaries = {row["week"]: row for row in weekly_summaries(con)}
        admin_data = admin_report_data(con, now=NOW)
        data = weekly_report_data(con, WEEK, now=NOW)
        page = write_reports(con, tmp_path / "home", week=WEEK, now=NOW)
    assert summaries[WEEK]["cost_usd"] == pytest.approx(MULTI_WEEK_TOTAL)
    assert summaries[PREV]["cost_usd"] == pytest.approx(MULTI_PREV_TOTAL)
    month = admin_data["periods"][0]
    assert month["cost_usd"] == pytest.approx(MULTI_WEEK_TOTAL + MULTI_PREV_TOTAL)
    assert month["platform_fee_usd"] == pytest.approx(0.5 + 0.2 + 0.4)
    assert month["requests"] == 100 + 7 + 80
    assert (month["users"], month["api_keys"]) == (3, 1)  # alice, bob, carol; key-b
    assert admin_data["spend_basis"]["authoritative"] is True
    mine = data["my_integrations"]
    cards = mine["integrations"] + mine["sources"]
    assert sum(card["total_usd"] or 0.0 for card in cards) == pytest.approx(
        MULTI_WEEK_TOTAL + MULTI_PREV_TOTAL
    )
    assert "helicone" not in {card["source"] for card in mine["sources"]}
    index_html = (page.parent.parent / "index.html").read_text(encoding="utf-8")
    admin_html = (page.parent.parent / "admin.html").read_text(encoding="utf-8")
    for html in (index_html, admin_html, page.read_text(encoding="utf-8")):
        assert "Spend basis: the authoritative source per UTC day and provider" in html
    assert f"${MULTI_WEEK_TOTAL:,.2f}" in index_html


def test_without_the_accounting_marts_every_usage_row_counts(tmp_path: Path) -> None:
    path = build_multi_source_warehouse(tmp_path / "multi.duckdb", accounting=False)
    with duckdb.connect(str(path), read_only=True) as con:
        data = weekly_report_data(con, WEEK, now=NOW)
        [summary] = [row for row in weekly_summaries(con) if row["week"] == WEEK]
    assert data["spend_basis"]["kind"] == "usage"
    assert "fct_spend_daily does not exist" in data["spend_basis"]["reason"]
    assert data["totals"]["cost_usd"] == pytest.approx(MULTI_WEEK_ALL_SOURCES)
    assert data["totals"]["prev_cost_usd"] == pytest.approx(MULTI_PREV_ALL_SOURCES)
    assert summary["cost_usd"] == pytest.approx(MULTI_WEEK_ALL_SOURCES)
    assert _money_rows(data["top_users"]["rows"]) == pytest.approx(MULTI_WEEK_ALL_SOURCES)
    users = {row["label"]: row for row in data["top_users"]["rows"]}
    assert users["alice"]["tokens"] == 36_000  # tokens per user where the rows have them
    sources = {row["source"]: row["spend_role"] for row in data["data_health"]["sources"]}
    assert set(sources.values()) == {"counted"}
    html = render_weekly(data)
    assert "Spend basis: every row of marts.fct_usage_daily" in html
    assert f"${MULTI_WEEK_ALL_SOURCES:,.2f}" in html


def test_an_older_spend_mart_layout_falls_back_to_usage(tmp_path: Path) -> None:
    path = build_multi_source_warehouse(tmp_path / "multi.duckdb")
    with duckdb.connect(str(path)) as con:
        con.execute("ALTER TABLE marts.fct_spend_daily DROP COLUMN authoritative_source")
        data = weekly_report_data(con, WEEK, now=NOW)
    assert data["spend_basis"]["kind"] == "usage"
    assert "authoritative_source" in data["spend_basis"]["reason"]
    assert data["totals"]["cost_usd"] == pytest.approx(MULTI_WEEK_ALL_SOURCES)


# ---------------------------------------------------------------------------------------------
# A real warehouse: the export fixtures and custom rows, built by the real dbt project

# Custom rows on the days the OpenAI console export covers (the same traffic seen again, naming
# users), and one day only custom data has.
REAL_CUSTOM_ROWS = [
    dict(timestamp=datetime(2026, 10, day, 10, 0), provider="openai", model="gpt-4o-mini",
         input_tokens=4_000, output_tokens=500, request_count=2, user_id=user,
         request_id=f"real-{day}-{user}")
    for day in (1, 2, 3) for user in ("dana", "eli")
] + [
    dict(timestamp=datetime(2026, 10, 2, 12, 0), provider="openai", model="gpt-4o-mini",
         input_tokens=1_000, output_tokens=100, request_count=1, user_id="dana",
         cost_usd=Decimal("0.25"), request_id="real-billed"),
    dict(timestamp=datetime(2026, 10, 4, 8, 0), provider="mistral", model="mistral-small-latest",
         input_tokens=10_000, output_tokens=1_000, request_count=3, user_id="eli",
         cost_usd=Decimal("0.5"), request_id="real-mistral"),
]  # fmt: skip


def _real_week_sums(warehouse: Path) -> dict[str, dict[str, float]]:
    """Per ISO week: the authoritative spend, every source's usage total, and the authoritative
    source's fee, computed straight from the marts."""
    from tests.dbt_helpers import query

    rows = query(
        warehouse,
        """
        WITH spend AS (
            SELECT date_trunc('week', usage_date) AS monday, sum(spend_usd) AS spend
            FROM marts.fct_spend_daily GROUP BY ALL
        ),
        usage AS (
            SELECT date_trunc('week', usage_date) AS monday, sum(total_cost_usd) AS all_sources
            FROM marts.fct_usage_daily GROUP BY ALL
        ),
        fees AS (
            SELECT date_trunc('week', u.usage_date) AS monday,
                   sum(u.platform_fee_usd) FILTER (WHERE u.total_cost_usd IS NOT NULL) AS fee
            FROM marts.fct_usage_daily AS u
            JOIN (SELECT DISTINCT usage_date, provider, authoritative_source
                  FROM marts.fct_spend_daily) AS a
              ON u.usage_date = a.usage_date AND u.provider IS NOT DISTINCT FROM a.provider
             AND u.source = a.authoritative_source
            GROUP BY ALL
        )
        SELECT CAST(spend.monday AS DATE), spend.spend, usage.all_sources, fees.fee
        FROM spend
        LEFT JOIN usage USING (monday)
        LEFT JOIN fees USING (monday)
        """,
    )
    return {
        iso_week_of(monday): {
            "spend": float(spend or 0),
            "all_sources": float(all_sources or 0),
            "fee": float(fee or 0),
        }
        for monday, spend, all_sources, fee in rows
    }


def iso_week_of(day: date) -> str:
    year, number, _ = day.isocalendar()
    return f"{year:04d}-W{number:02d}"


@pytest.mark.slow
def test_real_dbt_warehouse_reports_the_authoritative_spend(tmp_path: Path) -> None:
    from ingest.drop import process_drop_folder
    from tests.dbt_helpers import prepare_warehouse, run_dbt
    from tests.test_export_marts import FILES, FIXTURES

    home = meterr_home(tmp_path / "home").ensure()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("METERR_HOME", str(home.root))  # no stray prices.yaml from the real home
        prepare_warehouse(home.warehouse, REAL_CUSTOM_ROWS)
        for i, name in enumerate(FILES):
            path = home.drop / f"export{i:02d}.dat"
            path.write_bytes((FIXTURES / name).read_bytes())
            [outcome] = process_drop_folder(home, [path])
            assert outcome.status == "loaded", outcome
        done = run_dbt(
            ["build", "--exclude-resource-type", "unit_test"], home.warehouse, tmp_path / "dbt"
        )
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]

    sums = _real_week_sums(home.warehouse)
    # The fixtures overlap: some week's sources add up to more than its authoritative spend.
    doubled = [week for week, s in sums.items() if s["all_sources"] > s["spend"] + 0.005]
    assert doubled, sums
    week = max(doubled, key=lambda w: sums[w]["all_sources"] - sums[w]["spend"])
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.fct_spend_allocated").fetchone()[0] > 0
        page = write_reports(con, home, week=week, now=NOW)
        data = weekly_report_data(con, week, now=NOW)
        summaries = {row["week"]: row for row in weekly_summaries(con)}
    assert data["spend_basis"]["kind"] == "authoritative"
    total = data["totals"]["cost_usd"]
    assert sums[week]["fee"] == 0.0  # platform_fee_model: none
    assert total == pytest.approx(sums[week]["spend"], abs=1e-6)
    assert total < sums[week]["all_sources"] - 0.005
    for key in ("top_users", "top_api_keys", "top_projects"):
        top = data[key]
        shown = _money_rows(top["rows"]) + (top["others_cost_usd"] or 0.0)
        assert shown == pytest.approx(total, abs=1e-6), key
    assert _money_rows(data["by_provider"]) == pytest.approx(total, abs=1e-6)
    assert _money_rows(data["daily"]) == pytest.approx(total, abs=1e-6)
    for each, row in summaries.items():
        if each in sums:
            assert row["cost_usd"] == pytest.approx(sums[each]["spend"], abs=1e-6), each
    html = page.read_text(encoding="utf-8")
    assert f"${total:,.2f}" in html
    assert "Spend basis: the authoritative source per UTC day and provider" in html

    # With a 5% platform fee the total is the spend plus the authoritative source's fee only.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("METERR_HOME", str(home.root))
        done = run_dbt(
            ["build", "--select", "fct_usage_daily", "--exclude-resource-type", "unit_test"],
            home.warehouse,
            tmp_path / "dbt",
            dbt_vars={"platform_fee_model": "percentage", "platform_fee_percent": 5},
        )
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    sums = _real_week_sums(home.warehouse)
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        data = weekly_report_data(con, week, now=NOW)
    fee = data["totals"]["platform_fee_usd"]
    assert fee == pytest.approx(sums[week]["fee"], abs=1e-6) and fee > 0
    assert fee == pytest.approx(0.05 * sums[week]["spend"], abs=0.01)
    assert data["totals"]["cost_usd"] == pytest.approx(sums[week]["spend"] + fee, abs=1e-6)
    users = data["top_users"]
    shown = _money_rows(users["rows"]) + (users["others_cost_usd"] or 0.0)
    assert shown == pytest.approx(data["totals"]["cost_usd"], abs=1e-6)


def test_accounting_marts_older_than_the_usage_fall_back_and_say_why(tmp_path: Path) -> None:
    """A build that stopped before the accounting marts leaves them behind the usage."""
    path = build_multi_source_warehouse(tmp_path / "multi.duckdb")
    with duckdb.connect(str(path)) as con:
        con.execute("DELETE FROM marts.fct_spend_daily WHERE usage_date = DATE '2025-01-16'")
        data = weekly_report_data(con, WEEK, now=NOW)
    basis = data["spend_basis"]
    assert basis["kind"] == "usage" and "older than the usage" in basis["reason"]
    assert data["totals"]["cost_usd"] == pytest.approx(MULTI_WEEK_ALL_SOURCES)
    assert "older than the usage" in render_weekly(data)


def test_savings_headline_is_the_best_option_per_workload_when_dbt_provides_it(
    tmp_path: Path,
) -> None:
    path = build_full_warehouse(tmp_path / "w.duckdb")
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE OR REPLACE TABLE marts.savings_potential_by_scope AS SELECT * FROM (VALUES"
            " ('api_key', 'k1', 100.0), ('api_key', 'k2', 25.5)"
            ") AS t(scope, scope_value, best_option_monthly_savings_usd)"
        )
        data = weekly_report_data(con, WEEK, now=NOW)
    savings = data["savings"]
    assert savings["rows"], "the full fixture has savings opportunities"
    assert savings["total_monthly_savings_usd"] != pytest.approx(SAVINGS_TOTAL)
    assert savings["total_basis"] == "best_option_per_workload"
    assert savings["total_monthly_savings_usd"] == pytest.approx(125.5)
    assert "up to $125.50 per month" in render_weekly(data)


def test_last_file_loads_are_per_source_not_per_format(tmp_path: Path) -> None:
    """The ledger names each file's format; the report's sources are the formats' sources (the
    OpenAI cost CSV is `openai_export`, both Anthropic Console CSVs are `anthropic_export`)."""
    from datetime import datetime

    from ingest import ledger
    from reports.health import last_file_loads

    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ledger.ensure(con)
        for n, (fmt, status, at) in enumerate(
            [
                ("openai_cost_csv", "loaded", datetime(2026, 11, 9, 7, 4)),
                ("anthropic_usage_csv", "loaded", datetime(2026, 11, 9, 8, 0)),
                ("anthropic_cost_csv", "loaded", datetime(2026, 11, 10, 9, 30)),
                ("anthropic_usage_csv", "quarantined", datetime(2026, 11, 11, 9, 0)),
                ("custom", "loaded", datetime(2026, 11, 8, 6, 0)),
            ]
        ):
            ledger.record(con, f"{n:064x}", f"file{n}", fmt, status, 1, None, at=at)
        assert last_file_loads(con) == {
            "openai_export": "2026-11-09T07:04:00",
            "anthropic_export": "2026-11-10T09:30:00",
            "custom": "2026-11-08T06:00:00",
        }
