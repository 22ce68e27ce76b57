"""The weekly report: data queried from a fixture warehouse, rendered HTML, files on disk.

The fixture warehouse is built directly with SQL in the contract's shapes (``marts.fct_usage_daily``
and ``meta.ingested_files``; the optional marts only where a test adds them). It holds four ISO
weeks around New Year 2025 (2024-W52 .. 2025-W03) with priced and unpriced usage and hostile
strings, so expected totals are computed here from the same rows, independently of the report code.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingest.paths import meterr_home
from reports import (
    available_weeks,
    last_complete_week,
    render_index,
    render_weekly,
    weekly_report_data,
    write_all_weeks,
    write_reports,
)
from reports.charts import UnsafeChartError, check_svg, daily_spend_spec, to_svg
from reports.data import ReportDataError, parse_week, weekly_summaries
from reports.formatting import compact, money, money_signed, pct, pct_signed
from reports.render import TEMPLATES, WEEKLY_SECTIONS

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
    assert data["as_of"] == {"usage_date": "2025-01-19", "ingested_at": "2025-01-16T09:00:00"}
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
    assert len(svgs) == 4  # sparkline, daily, 13-week trend, models
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
