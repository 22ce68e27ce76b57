"""marts.anomalies and marts.savings_opportunities built for real on the bundled demo data set.

The demo (``ingest.sample_data``) has ten steady workloads with a weekday rhythm and one planted
spike: key ``key-etl-batch`` on gpt-4o at about 12x volume for two days, eight days before the
end, with its cache hit rate falling from 40% to 3%. The detector must find that spike, explain
it once (not once per scope and metric), and stay quiet on ordinary days; the savings must be
priced like genai-prices prices them.
"""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
from genai_prices import Usage, calc_price

from ingest.sample_data import FIELDS, SPIKE_DAYS_BEFORE_END, SPIKE_KEY, SPIKE_MODEL, generate_rows
from tests.dbt_helpers import prepare_warehouse, query, run_dbt

pytestmark = pytest.mark.slow

# A fixed end date keeps the run deterministic (the demo's own default is "yesterday").
END = date(2025, 10, 31)
SPIKE_DAYS = {
    END - timedelta(days=SPIKE_DAYS_BEFORE_END),
    END - timedelta(days=SPIKE_DAYS_BEFORE_END - 1),
}
# marts.savings_opportunities' window: the trailing 30 days (var insights_savings_window_days).
WINDOW_START = END - timedelta(days=29)
MICRO = Decimal("0.000001")

ANOMALY_COLUMNS = (
    "anomaly_id",
    "usage_date",
    "scope",
    "scope_value",
    "metric",
    "observed",
    "expected",
    "score",
    "severity",
    "explanation",
)
SAVINGS_COLUMNS = (
    "opportunity_id",
    "kind",
    "scope",
    "scope_value",
    "current_monthly_cost_usd",
    "estimated_monthly_savings_usd",
    "confidence",
    "action",
)


@pytest.fixture(scope="module")
def demo_rows() -> list[dict]:
    return generate_rows(END)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, demo_rows: list[dict]) -> Path:
    """The demo set as CSV in raw.custom_usage of a temp warehouse, then a real ``dbt build``
    of the insights marts and everything they depend on (tests included)."""
    work = tmp_path_factory.mktemp("insights")
    warehouse = work / "warehouse.duckdb"
    demo_csv = work / "demo.csv"
    with open(demo_csv, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        for row in demo_rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    # Every other raw and meta table the project's sources read, empty.
    prepare_warehouse(warehouse)
    con = duckdb.connect(str(warehouse))
    try:
        columns = ", ".join(f'"{name}"' for name in FIELDS)
        con.execute(
            f"""
            INSERT INTO raw.custom_usage ({columns}, _file_sha256, _row_number)
            SELECT {columns}, 'demo', row_number() OVER ()
            FROM read_csv(?, header = true, all_varchar = true)
            """,
            [str(demo_csv)],
        )
    finally:
        con.close()
    # Only the insights marts' lineage; "cautious" leaves out tests that also need models
    # outside it (they belong to other marts' test modules).
    done = run_dbt(
        [
            "build",
            "--select",
            "+anomalies",
            "+savings_opportunities",
            "+savings_potential_by_scope",
            "--indirect-selection",
            "cautious",
        ],
        warehouse,
        work,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return warehouse


def _rows(warehouse: Path, table: str, columns: tuple[str, ...]) -> list[dict]:
    return [
        dict(zip(columns, row, strict=True))
        for row in query(warehouse, f"SELECT {', '.join(columns)} FROM {table}")
    ]


@pytest.fixture(scope="module")
def anomalies(built: Path) -> list[dict]:
    return _rows(built, "marts.anomalies", ANOMALY_COLUMNS)


@pytest.fixture(scope="module")
def savings(built: Path) -> list[dict]:
    return _rows(built, "marts.savings_opportunities", SAVINGS_COLUMNS)


def _window_tokens(demo_rows: list[dict], api_key: str, model: str) -> dict[str, int]:
    """The workload's token buckets over the savings window, from the generator's own rows."""
    totals: dict[str, int] = defaultdict(int)
    for row in demo_rows:
        day = date.fromisoformat(row["timestamp"][:10])
        if row["api_key_id"] == api_key and row["model"] == model and day >= WINDOW_START:
            for name in (
                "input_tokens",
                "cached_input_tokens",
                "cache_write_tokens",
                "output_tokens",
                "request_count",
            ):
                totals[name] += row[name]
    return totals


def _genai_cost(tokens: dict[str, int], model: str, provider: str) -> Decimal:
    """genai-prices' own price for those tokens (its input total includes the cache parts)."""
    usage = Usage(
        input_tokens=tokens["input_tokens"]
        + tokens["cached_input_tokens"]
        + tokens["cache_write_tokens"],
        cache_read_tokens=tokens["cached_input_tokens"],
        cache_write_tokens=tokens["cache_write_tokens"],
        output_tokens=tokens["output_tokens"],
    )
    when = datetime(END.year, END.month, END.day, 12, tzinfo=UTC)
    return calc_price(usage, model, provider_id=provider, genai_request_timestamp=when).total_price


def _one(rows: list[dict], **match: object) -> dict:
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, found)
    return found[0]


# Anomalies -------------------------------------------------------------------------------------


def test_planted_spike_is_one_high_anomaly_per_day_on_the_key(anomalies: list[dict]) -> None:
    """One change, one row: the spike also raised bob's, proj-analytics', gpt-4o's and openai's
    spend and tokens (ten flagged series a day), but the manager sees one high row per day, on
    the API key (the actionable handle) and on spend."""
    for spike_day in sorted(SPIKE_DAYS):
        rows = [r for r in anomalies if r["usage_date"] == spike_day]
        assert [(r["scope"], r["scope_value"], r["metric"], r["severity"]) for r in rows] == [
            ("api_key", SPIKE_KEY, "cost_usd", "high")
        ], rows
        spend = rows[0]
        assert spend["observed"] > 10 * spend["expected"] > 0
        assert spend["score"] >= 10


def test_spike_explanation_names_volume_and_cache_hit_rate(anomalies: list[dict]) -> None:
    spike_day = END - timedelta(days=SPIKE_DAYS_BEFORE_END)
    text = _one(
        anomalies, usage_date=spike_day, scope="api_key", scope_value=SPIKE_KEY, metric="cost_usd"
    )["explanation"]
    assert text.startswith(f"{SPIKE_MODEL} spend on API key {SPIKE_KEY} rose "), text
    assert "volume +1," in text, text  # about +1,100%: twelve times the requests
    assert "cache hit rate 40% -> 3%" in text, text
    # The larger effect comes first.
    assert text.index("volume") < text.index("cache hit rate"), text
    assert "<" not in text and ">" not in text.replace("->", ""), "plain text only"


def test_spike_explanation_names_the_token_change_and_the_wider_scopes(
    anomalies: list[dict], built: Path
) -> None:
    """What the folded rows said is in the one row's explanation: the key's token rise and every
    wider scope the spike moved, narrowest first, each with its own rise."""
    for spike_day in sorted(SPIKE_DAYS):
        text = _one(anomalies, usage_date=spike_day, scope="api_key", scope_value=SPIKE_KEY)[
            "explanation"
        ]
        assert ". Tokens rose " in text, text
        wider = text[text.index("The same change also moved ") :]
        names = ["user bob", "project proj-analytics", f"model {SPIKE_MODEL}", "provider openai"]
        positions = [wider.index(f"{name} (+$") for name in names]
        assert positions == sorted(positions), wider
        # The five scopes x two metrics the spike flagged are one incident.
        [(incident_rows,)] = query(
            built,
            f"""
            SELECT incident_rows FROM intermediate.int_insights_anomaly_incidents
            WHERE usage_date = DATE '{spike_day.isoformat()}' AND scope_value = '{SPIKE_KEY}'
            """,
        )
        assert incident_rows == 10


def test_ordinary_days_have_few_false_positives(anomalies: list[dict]) -> None:
    ordinary = [r for r in anomalies if r["usage_date"] not in SPIKE_DAYS]
    # Steady workloads with +-15% noise and weekend dips: nothing above low, and at most a
    # couple of low ones over the ~60 scored days x 35 scope values x 2 metrics.
    assert [r for r in ordinary if r["severity"] != "low"] == []
    assert len(ordinary) <= 4, ordinary
    # No workload starts or stops in the demo.
    assert {r["metric"] for r in anomalies} <= {"cost_usd", "total_tokens"}


def test_anomaly_ids_hash_day_scope_value_and_metric(anomalies: list[dict]) -> None:
    assert anomalies
    for row in anomalies:
        key = "|".join(
            [row["usage_date"].isoformat(), row["scope"], row["scope_value"], row["metric"]]
        )
        assert row["anomaly_id"] == hashlib.md5(key.encode()).hexdigest()


# Savings ---------------------------------------------------------------------------------------


def test_batch_caching_and_cheaper_model_opportunities_have_dollars(savings: list[dict]) -> None:
    for kind in ("batch_api", "prompt_caching", "cheaper_model"):
        rows = [r for r in savings if r["kind"] == kind]
        assert rows, kind
        for row in rows:
            assert row["estimated_monthly_savings_usd"] >= Decimal("5"), row
            assert row["current_monthly_cost_usd"] > 0, row
            assert row["confidence"] in {"low", "medium", "high"}, row
    # Every key in the demo is in use: nothing idle.
    assert [r for r in savings if r["kind"] == "idle_key"] == []
    # The unpriced in-house model gets no estimate rather than a $0 one.
    assert [r for r in savings if r["scope_value"] == "key-legal"] == []


def test_cheaper_model_saving_equals_genai_prices(
    savings: list[dict], demo_rows: list[dict]
) -> None:
    """gpt-4o -> gpt-4o-mini for the support bot, priced independently with genai-prices."""
    tokens = _window_tokens(demo_rows, "key-support-bot", "gpt-4o")
    current = _genai_cost(tokens, "gpt-4o", "openai")
    cheaper = _genai_cost(tokens, "gpt-4o-mini", "openai")
    row = _one(savings, kind="cheaper_model", scope="api_key", scope_value="key-support-bot")
    assert row["current_monthly_cost_usd"] == current.quantize(MICRO, ROUND_HALF_UP)
    assert row["estimated_monthly_savings_usd"] == (current - cheaper).quantize(
        MICRO, ROUND_HALF_UP
    )
    assert "gpt-4o-mini" in row["action"] and "quality check" in row["action"]


def test_caching_saving_equals_genai_prices(savings: list[dict], demo_rows: list[dict]) -> None:
    """key-gemini never hits the cache; at the 50% target hit rate half its prompt tokens would
    be cache reads (gemini has no cache-write price, so no premium)."""
    tokens = _window_tokens(demo_rows, "key-gemini", "gemini-2.5-flash")
    assert tokens["cached_input_tokens"] == 0
    half = (tokens["input_tokens"] + tokens["cache_write_tokens"]) // 2
    as_input = {
        "input_tokens": half,
        "cached_input_tokens": 0,
        "cache_write_tokens": 0,
        "output_tokens": 0,
    }
    as_reads = {
        "input_tokens": 0,
        "cached_input_tokens": half,
        "cache_write_tokens": 0,
        "output_tokens": 0,
    }
    expected = _genai_cost(as_input, "gemini-2.5-flash", "google") - _genai_cost(
        as_reads, "gemini-2.5-flash", "google"
    )
    row = _one(savings, kind="prompt_caching", scope="api_key", scope_value="key-gemini")
    assert abs(row["estimated_monthly_savings_usd"] - expected) <= Decimal("0.000002")


def test_batch_saving_is_about_half_the_standard_price(
    savings: list[dict], demo_rows: list[dict]
) -> None:
    tokens = _window_tokens(demo_rows, SPIKE_KEY, SPIKE_MODEL)
    standard = _genai_cost(tokens, SPIKE_MODEL, "openai")
    row = _one(savings, kind="batch_api", scope="api_key", scope_value=SPIKE_KEY)
    assert row["current_monthly_cost_usd"] == standard.quantize(MICRO, ROUND_HALF_UP)
    # OpenAI's batch API is half price (the cached-input rate may differ by catalogue version).
    assert Decimal("0.4") * standard <= row["estimated_monthly_savings_usd"] <= standard / 2 + MICRO
    assert "batch API" in row["action"]


def test_overlapping_savings_are_alternatives_and_not_double_counted(
    savings: list[dict], built: Path
) -> None:
    """Batch and caching on key-etl-batch's gpt-4o traffic price the same tokens: each action says
    it is an alternative to the other, and savings_potential_by_scope counts the workload once
    (best option; batch and caching stacked, not added)."""
    batch = _one(savings, kind="batch_api", scope="api_key", scope_value=SPIKE_KEY)
    caching = _one(savings, kind="prompt_caching", scope="api_key", scope_value=SPIKE_KEY)
    assert "Alternative to prompt caching for the same traffic" in batch["action"]
    assert "Alternative to the batch API for the same traffic" in caching["action"]
    # A lone opportunity names no alternative.
    lone = _one(savings, kind="cheaper_model", scope="api_key", scope_value="key-support-bot")
    assert "Alternative" not in lone["action"]

    [(best, combined, rated)] = query(
        built,
        f"""
        SELECT best_option_monthly_savings_usd, combined_monthly_savings_usd,
               (SELECT max(monthly_rated_cost_usd)
                FROM intermediate.int_insights_savings_opportunities
                WHERE scope_value = '{SPIKE_KEY}' AND kind = 'batch_api')
        FROM marts.savings_potential_by_scope
        WHERE scope = 'api_key' AND scope_value = '{SPIKE_KEY}'
        """,
    )
    b = batch["estimated_monthly_savings_usd"]
    c = caching["estimated_monthly_savings_usd"]
    assert best == max(b, c)
    assert abs(combined - (b + c - b * c / rated)) <= Decimal("0.000002")
    assert best < combined < b + c

    [(best_total, combined_total)] = query(
        built,
        "SELECT sum(best_option_monthly_savings_usd), sum(combined_monthly_savings_usd) "
        "FROM marts.savings_potential_by_scope",
    )
    naive_total = sum(r["estimated_monthly_savings_usd"] for r in savings)
    assert best_total <= combined_total < naive_total


def test_idle_keys_are_reported_also_when_their_usage_could_not_be_priced(tmp_path: Path) -> None:
    # A key whose usage has no price (an export without a model column, a model no catalogue
    # knows) has no lifetime cost; its idle-key finding must still be written, not fail the
    # build on savings_opportunities' NOT NULL action (as it once did).
    def day_rows(api_key: str, model: str, first: date, last: date) -> list[dict]:
        return [
            {
                "_file_sha256": "idle-test",
                "_row_number": index,
                "timestamp": datetime.combine(first + timedelta(days=index), datetime.min.time()),
                "provider": "openai",
                "model": model,
                "input_tokens": 50_000,
                "cached_input_tokens": 0,
                "cache_write_tokens": 0,
                "output_tokens": 5_000,
                "request_count": 10,
                "api_key_id": api_key,
            }
            for index in range((last - first).days + 1)
        ]

    rows = [
        *day_rows("key-unpriced", "no-such-model-anywhere", date(2025, 9, 1), date(2025, 9, 5)),
        *day_rows("key-priced", "gpt-4o", date(2025, 9, 1), date(2025, 9, 5)),
        *day_rows("key-live", "gpt-4o", date(2025, 9, 1), date(2025, 10, 31)),
    ]
    warehouse = tmp_path / "warehouse.duckdb"
    prepare_warehouse(warehouse, rows)
    done = run_dbt(
        ["build", "--select", "+savings_opportunities", "--indirect-selection", "cautious"],
        warehouse,
        tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    idle = {
        row["scope_value"]: row
        for row in _rows(warehouse, "marts.savings_opportunities", SAVINGS_COLUMNS)
        if row["kind"] == "idle_key"
    }
    assert sorted(idle) == ["key-priced", "key-unpriced"]
    for row in idle.values():
        assert "has had no usage since 2025-09-05 (56 days)" in row["action"]
    assert "after $" in idle["key-priced"]["action"]
    assert "could not price" in idle["key-unpriced"]["action"]
