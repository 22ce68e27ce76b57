"""The rendered pages in a real headless Chromium (Debian's ``/usr/bin/chromium``).

The pages are written from the full fixture warehouse of ``tests/test_reports.py`` (every optional
table, hostile strings everywhere) and opened from ``file://`` by :class:`reports.browser.Chromium`,
which speaks the DevTools protocol over a standard-library WebSocket and runs the browser with no
network at all. For the weekly page, the index and the admin page it checks: no request other than
the page's own ``file://`` URL, no console error or warning, no failed load or CSP violation, no
script, every section (and card) present, visible and stamped "as of"; then it writes a screenshot
into the test's temporary folder. A last test proves the harness is not blind: a page that makes a
request and logs an error is caught.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from reports import write_all_weeks
from reports.browser import CHROMIUM, Chromium
from reports.render import ADMIN_SECTIONS, WEEKLY_CARDS, WEEKLY_SECTIONS
from tests.test_reports import CIPHERTEXT, NOW, WEEK, build_full_warehouse

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is missing (CI installs Debian's chromium package first)",
    ),
]

INDEX_SECTIONS = (("weekly-spend", "Weekly spend"), ("reports", "All weeks"))
ADMIN_CARDS = (
    "admin-requests",
    "admin-spend",
    "admin-fee-revenue",
    "admin-users",
    "admin-integrations",
    "admin-unpriced",
)
PAGES = {
    "weekly": (f"weekly/{WEEK}.html", WEEKLY_SECTIONS, tuple(c for c, _ in WEEKLY_CARDS)),
    "index": ("index.html", INDEX_SECTIONS, ()),
    "admin": ("admin.html", ADMIN_SECTIONS, ADMIN_CARDS),
}
# What the page looks like to a reader, gathered in one DevTools evaluation (not page script:
# the pages' CSP allows none, and they need none).
INSPECT = """
(() => {
  const visible = el => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  };
  return {
    sections: [...document.querySelectorAll('section[id]')].map(s => ({
      id: s.id,
      heading: (s.querySelector('h2') || {}).textContent || null,
      visible: visible(s),
      asof: /as of/i.test((s.querySelector('.asof') || {}).textContent || ''),
      svgs: s.querySelectorAll('svg').length,
    })),
    cards: [...document.querySelectorAll('.card[id]')].map(c => ({
      id: c.id, visible: visible(c), asof: !!c.querySelector('.asof'),
    })),
    scripts: document.scripts.length,
    text: document.body.innerText,
    links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    background: getComputedStyle(document.body).backgroundColor,
    color: getComputedStyle(document.body).color,
  };
})()
"""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``$METERR_HOME/reports`` written from the full fixture warehouse."""
    root = tmp_path_factory.mktemp("browser")
    warehouse = build_full_warehouse(root / "warehouse.duckdb")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        write_all_weeks(con, root / "home", now=NOW)
    return root / "home" / "reports"


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    with Chromium(CHROMIUM) as chromium:
        yield chromium


def _luminance(css_color: str) -> float:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000, path


@pytest.mark.parametrize("name", list(PAGES))
def test_page_is_offline_clean_and_complete(
    browser: Chromium, site: Path, name: str, tmp_path: Path
) -> None:
    relative, sections, cards = PAGES[name]
    url = (site / relative).as_uri()
    page = browser.open(url, width=1200, height=900)
    try:
        assert page.log.problems() == []
        assert page.log.requests == [url]  # the page itself, from file://, and nothing else
        info = page.evaluate(INSPECT)
        assert info["scripts"] == 0
        found = {section["id"]: section for section in info["sections"]}
        assert list(found) == [anchor for anchor, _ in sections]
        for anchor, heading in sections:
            assert found[anchor]["heading"] == heading
            assert found[anchor]["visible"] and found[anchor]["asof"], anchor
        found_cards = {card["id"]: card for card in info["cards"]}
        for card_id in cards:
            assert found_cards[card_id]["visible"] and found_cards[card_id]["asof"], card_id
        assert CIPHERTEXT not in info["text"]
        # Every link stays inside the report folder.
        assert all(not re.match(r"^[a-z]+:", href) for href in info["links"]), info["links"]
        shot = page.screenshot(tmp_path / f"{name}.png", max_height=2400)
        _assert_png(shot)
    finally:
        page.close()


def test_weekly_page_shows_charts_and_hostile_text_as_text(browser: Chromium, site: Path) -> None:
    page = browser.open((site / "weekly" / f"{WEEK}.html").as_uri())
    try:
        info = page.evaluate(INSPECT)
        svgs = {section["id"]: section["svgs"] for section in info["sections"]}
        assert svgs["spend-by-day"] == 2 and svgs["usage-heatmap"] == 1
        assert svgs["spend-by-model"] == 1
        # Hostile names are shown as the text they are, never run or rendered as markup.
        assert "<img src=x onerror=alert(1)>" in info["text"]
        assert "Spend on <script>steal()</script>" in info["text"]
        summary = re.sub(r"\s+", " ", info["text"])
        assert "Total Platform Costs This Month $20.64" in summary
        assert "Platform Service Fee (5% of platform costs) $1.03" in summary
        assert "Total $21.67" in summary
        assert page.evaluate("document.querySelectorAll('img, iframe, script').length") == 0
    finally:
        page.close()


def test_weekly_page_reads_on_a_phone_in_both_colour_schemes(
    browser: Chromium, site: Path, tmp_path: Path
) -> None:
    url = (site / "weekly" / f"{WEEK}.html").as_uri()
    seen = {}
    for scheme in ("light", "dark"):
        page = browser.open(url, width=390, height=844, mobile=True, color_scheme=scheme)
        try:
            assert page.log.problems() == []
            info = page.evaluate(INSPECT)
            # Wide tables scroll inside their own box; the page itself never scrolls sideways.
            assert info["scrollWidth"] <= info["innerWidth"], info["scrollWidth"]
            seen[scheme] = (_luminance(info["background"]), _luminance(info["color"]))
            _assert_png(page.screenshot(tmp_path / f"phone-{scheme}.png", max_height=2400))
        finally:
            page.close()
    light_bg, light_fg = seen["light"]
    dark_bg, dark_fg = seen["dark"]
    assert light_bg > 0.8 and light_fg < 0.3
    assert dark_bg < 0.2 and dark_fg > 0.7


def test_the_harness_catches_requests_and_console_errors(
    browser: Chromium, site: Path, tmp_path: Path
) -> None:
    """A report page with a remote image and an inline script added: both must be caught."""
    html = (site / "weekly" / f"{WEEK}.html").read_text(encoding="utf-8")
    bad = tmp_path / "bad.html"
    bad.write_text(
        html.replace(
            "</body>",
            '<img src="https://tracker.example/pixel.png"><script>console.error("boom")</script>'
            "</body>",
        ),
        encoding="utf-8",
    )
    page = browser.open(bad.as_uri())
    try:
        problems = page.log.problems()
        # The page's CSP blocks both; the blocked attempts are still reported.
        assert any("tracker.example" in problem for problem in problems), problems
        assert any("script" in problem.lower() for problem in page.log.console_errors()), problems
    finally:
        page.close()
    # Without a CSP the request itself is seen (and fails: the browser has no network), and so
    # is what a script logs.
    open_page = tmp_path / "open.html"
    open_page.write_text(
        '<!doctype html><title>x</title><img src="https://tracker.example/pixel.png">'
        '<script>console.error("boom")</script>',
        encoding="utf-8",
    )
    page = browser.open(open_page.as_uri())
    try:
        assert page.log.network_requests() == ["https://tracker.example/pixel.png"]
        assert page.log.failed_loads
        assert "console.error: boom" in page.log.console_errors()
    finally:
        page.close()
