"""meterr.yaml -> dbt vars: the fee configured once, validated with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest import settings
from ingest.paths import MeterrHome

REPO = Path(__file__).resolve().parents[1]


def _write(home: MeterrHome, text: str, name: str = "meterr.yaml") -> Path:
    path = home.root / name
    path.write_text(text, encoding="utf-8")
    return path


def test_no_settings_file_means_no_fee_and_no_overrides(home: MeterrHome) -> None:
    assert settings.dbt_vars(home) == {
        "platform_fee_model": "none",
        "platform_fee_percent": 0,
        "platform_fee_per_request_usd": 0,
        "platform_fee_flat_monthly_usd": 0,
        "prices_override_path": "none",
    }


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("model: percentage\n  percent: 5", {"platform_fee_percent": 5}),
        ("model: per_request\n  per_request_usd: 0.002", {"platform_fee_per_request_usd": 0.002}),
        ("model: flat_monthly\n  flat_monthly_usd: 100", {"platform_fee_flat_monthly_usd": 100}),
        ("model: none", {}),
    ],
)
def test_each_fee_model_becomes_its_vars(
    home: MeterrHome, section: str, expected: dict[str, float]
) -> None:
    _write(home, f"platform_fee:\n  {section}\n")
    dbt_vars = settings.dbt_vars(home)
    model = section.split("\n")[0].split(": ")[1]
    assert dbt_vars["platform_fee_model"] == model
    for key in (
        "platform_fee_percent",
        "platform_fee_per_request_usd",
        "platform_fee_flat_monthly_usd",
    ):
        assert dbt_vars[key] == expected.get(key, 0)
    json.dumps(dbt_vars)  # what the dbt asset passes with --vars


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("platform_fee:\n  model: markup\n", "model must be one of none, percentage"),
        ("platform_fee:\n  model: percentage\n", "model percentage needs platform_fee.percent"),
        ("platform_fee:\n  model: percentage\n  percent: five\n", "must be a number"),
        ("platform_fee:\n  model: percentage\n  percent: -1\n", "must be a number >= 0"),
        ("platform_fee:\n  model: percentage\n  percent: 150\n", "at most 100"),
        (
            "platform_fee:\n  model: percentage\n  percent: 5\n  flat_monthly_usd: 3\n",
            "only applies to model flat_monthly",
        ),
        ("platform_fee:\n  model: percentage\n  pecent: 5\n", "unknown key(s) pecent"),
        ("platform-fee:\n  model: none\n", "unknown key(s) platform-fee"),
        ("platform_fee: 5\n", "must be a mapping"),
        ("reconciliation:\n  tolerance_usd: lots\n", "tolerance_usd must be a number"),
        ("platform_fee: [\n", "not valid YAML"),
        ("prices_override: missing.yaml\n", "does not exist"),
    ],
)
def test_invalid_settings_fail_with_a_clear_message(
    home: MeterrHome, text: str, message: str
) -> None:
    path = _write(home, text)
    with pytest.raises(settings.SettingsError) as failure:
        settings.dbt_vars(home)
    assert message in str(failure.value)
    assert str(path) in str(failure.value)


def test_price_override_file_is_found_and_validated(home: MeterrHome) -> None:
    (home.root / "prices.yaml").write_text(
        "prices:\n  - {provider: openai, model: gpt-4o, input_per_mtok: 2}\n"
    )
    assert settings.dbt_vars(home)["prices_override_path"] == str(home.root / "prices.yaml")
    (home.root / "prices.yaml").write_text("prices:\n  - {provider: openai, model: gpt-4o}\n")
    with pytest.raises(settings.SettingsError, match=r"prices\[1\]: give discount_percent"):
        settings.dbt_vars(home)


def test_prices_override_path_relative_to_home(home: MeterrHome) -> None:
    (home.root / "negotiated.yaml").write_text("prices: []\n")
    _write(home, "prices_override: negotiated.yaml\nreconciliation:\n  tolerance_percent: 2\n")
    dbt_vars = settings.dbt_vars(home)
    assert dbt_vars["prices_override_path"] == str(home.root / "negotiated.yaml")
    assert dbt_vars["reconciliation_tolerance_pct"] == 2


def test_example_file_is_valid(home: MeterrHome) -> None:
    _write(home, (REPO / "meterr.example.yaml").read_text(encoding="utf-8"))
    dbt_vars = settings.dbt_vars(home)
    assert dbt_vars["platform_fee_model"] == "percentage"
    assert dbt_vars["platform_fee_percent"] == 5
